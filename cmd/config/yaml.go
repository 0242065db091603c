package config

import (
	"bytes"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

var envRef = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

func decodeYAML(raw []byte, getenv func(string) string, cfg *Config) []error {
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(raw)).Decode(&doc); err != nil {
		return []error{fmt.Errorf("%w: not valid YAML: %s", ErrUnreadable, syntaxError(err, raw))}
	}
	var errs []error
	cfg.unset = map[string]bool{}
	expandNode(&doc, "", getenv, &errs, cfg.unset)
	if len(doc.Content) == 0 {
		return errs
	}
	// Check every key and the shape of every value: yaml's own errors quote
	// the value (a secret, maybe) and name no key. When the check found a
	// wrong value, yaml's error about it says nothing more.
	var wrong []error
	checkNode(doc.Content[0], reflect.TypeOf(*cfg), "", &wrong)
	errs = append(errs, wrong...)
	if err := doc.Decode(cfg); err != nil && len(wrong) == 0 {
		errs = append(errs, fmt.Errorf("config: %s", quoted.ReplaceAllString(err.Error(), "a value")))
	}
	return errs
}

// quoted matches what yaml's messages quote from the input.
var quoted = regexp.MustCompile("`[^`]*`")

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError words a YAML syntax error with the line the problem is on.
// yaml.v3 counts the lines of parser errors ("did not find expected ...")
// from 0, so they name the line before the problem; scanner errors count
// from 1. Blank and comment lines are skipped back over.
func syntaxError(err error, raw []byte) string {
	m := yamlLine.FindStringSubmatch(err.Error())
	if m == nil {
		return quoted.ReplaceAllString(strings.TrimPrefix(err.Error(), "yaml: "), "a value")
	}
	n, _ := strconv.Atoi(m[1])
	if strings.HasPrefix(m[2], "did not find expected") {
		n++
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	n = min(n, len(lines))
	for n > 1 && isBlank(lines[n-1]) {
		n--
	}
	return fmt.Sprintf("line %d: %s", n, quoted.ReplaceAllString(m[2], "a value"))
}

func isBlank(l string) bool {
	l = strings.TrimSpace(l)
	return l == "" || strings.HasPrefix(l, "#")
}

// expandNode replaces ${VAR} in every scalar (and $$ with $). Expanded plain
// scalars are re-resolved, so "${PARTITIONS}" can fill an int field. The key
// (as checkNode names it) of every scalar with an unset variable goes in
// unset, so that Validate does not report its emptiness a second time.
func expandNode(n *yaml.Node, path string, getenv func(string) string, errs *[]error, unset map[string]bool) {
	if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "$") {
		n.Value = envRef.ReplaceAllStringFunc(n.Value, func(m string) string {
			if m == "$$" {
				return "$"
			}
			name := m[2 : len(m)-1]
			v := getenv(name)
			if v == "" {
				*errs = append(*errs, fmt.Errorf("line %d: ${%s} is not set", n.Line, name))
				unset[strings.TrimPrefix(path, ".")] = true
			}
			return v
		})
		if n.Style == 0 {
			n.Tag = ""
		}
	}
	for i, c := range n.Content {
		switch n.Kind {
		case yaml.MappingNode:
			if i%2 == 1 {
				expandNode(c, path+"."+n.Content[i-1].Value, getenv, errs, unset)
			} else {
				expandNode(c, path, getenv, errs, unset)
			}
		case yaml.SequenceNode:
			expandNode(c, fmt.Sprintf("%s[%d]", path, i), getenv, errs, unset)
		default:
			expandNode(c, path, getenv, errs, unset)
		}
	}
}

var durationType = reflect.TypeFor[time.Duration]()

// checkNode reports keys that no field of t takes (a typo must not
// silently fall back to a default) and values of the wrong shape or type,
// naming the key and the line, never the value.
func checkNode(n *yaml.Node, t reflect.Type, path string, errs *[]error) {
	if n.Kind == yaml.AliasNode || (n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
		return
	}
	key := strings.TrimPrefix(path, ".")
	bad := func(format string, args ...any) {
		*errs = append(*errs, fmt.Errorf("line %d: %s: %s", n.Line, key, fmt.Sprintf(format, args...)))
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			bad("want a list, got %s", shape(n))
			return
		}
		for i, c := range n.Content {
			checkNode(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), errs)
		}
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			bad("want keys and values, got %s", shape(n))
			return
		}
		fields := map[string]reflect.Type{}
		for i := range t.NumField() {
			if name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); name != "" && name != "-" {
				fields[name] = t.Field(i).Type
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			ft, ok := fields[k]
			if !ok {
				*errs = append(*errs, fmt.Errorf("line %d: unknown key %s", n.Content[i].Line, strings.TrimPrefix(path+"."+k, ".")))
				continue
			}
			checkNode(n.Content[i+1], ft, path+"."+k, errs)
		}
	case n.Kind != yaml.ScalarNode:
		bad("want a single value, got %s", shape(n))
	case t == durationType:
		if _, err := time.ParseDuration(n.Value); err != nil {
			bad("not a duration (like 8s, 10m or 168h)")
		}
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		if _, err := strconv.ParseInt(n.Value, 0, t.Bits()); err != nil {
			bad("not a whole number")
		}
	case t.Kind() == reflect.Bool:
		switch strings.ToLower(n.Value) {
		case "true", "false", "yes", "no", "on", "off":
		default:
			bad("not true or false")
		}
	}
}

func shape(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "keys and values"
	}
	return "a single value"
}
