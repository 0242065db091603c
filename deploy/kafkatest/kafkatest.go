package kafkatest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadbridge/leadbridge/cmd/topics"
)

// envBrokers names the variable that points the tests at a running Kafka.
const envBrokers = "LEADBRIDGE_TEST_KAFKA_BROKERS"

// Broker kinds, in the order Find tries them.
const (
	kindEnv            = "env"
	kindTestcontainers = "testcontainers"
	kindKfake          = "kfake"
)

// Broker describes the Kafka cluster a test talks to.
type Broker struct {
	Seeds []string // bootstrap addresses
	Kind  string   // "env" (LEADBRIDGE_TEST_KAFKA_BROKERS), "testcontainers" or "kfake"
	Real  bool     // true for real Apache Kafka (env, testcontainers)
}

var (
	findOnce   sync.Once
	found      Broker
	findErr    error
	findNotice string // said by every Find call (fallbacks must stay visible)
)

// Find returns the broker for tests, in this order: LEADBRIDGE_TEST_KAFKA_BROKERS
// (comma separated); else a testcontainers-go apache/kafka container when a Docker
// engine answers; else an in-process kfake cluster, with a loud log line saying the
// test fell back to kfake. The result is shared by all tests of one package; the
// container is removed by testcontainers' reaper when the test process exits and the
// kfake cluster lives in the test process.
//
// When LEADBRIDGE_TEST_KAFKA_BROKERS is set but nothing answers there within 30s,
// Find fails the test (it does not fall back: a set variable is a promise of a
// real broker).
func Find(tb testing.TB) Broker {
	tb.Helper()
	findOnce.Do(func() { found, findNotice, findErr = find(tb) })
	if findErr != nil {
		tb.Fatalf("kafkatest: %v", findErr)
	}
	if findNotice != "" {
		tb.Log(findNotice)
	}
	return Broker{Seeds: append([]string(nil), found.Seeds...), Kind: found.Kind, Real: found.Real}
}

// RequireReal skips the test with a loud message unless the broker is real Apache
// Kafka. Under CI (CI set in the environment) it fails the test instead, so a
// missing real broker can never pass as a skip.
func RequireReal(tb testing.TB) Broker {
	tb.Helper()
	b := Find(tb)
	if b.Real {
		return b
	}
	msg := fmt.Sprintf("kafkatest: %s needs real Apache Kafka but the broker is %s (%s); "+
		"start one with `make kafka-start` and set %s=127.0.0.1:9092",
		tb.Name(), b.Kind, strings.Join(b.Seeds, ","), envBrokers)
	if os.Getenv("CI") != "" {
		tb.Fatal(msg + " [CI: failing instead of skipping]")
	}
	tb.Skip("SKIPPED: " + msg)
	return b
}

// Topic creates a topic with a unique name (prefix + random suffix; characters Kafka
// does not allow in names, such as the '/' of subtest names, become '_'), the given
// partitions, replication factor 1 and configs, waits until every partition has a
// leader, and deletes the topic in tb.Cleanup.
func Topic(tb testing.TB, b Broker, prefix string, partitions int32, configs map[string]*string) string {
	tb.Helper()
	name := topicName(prefix)
	adm := kadm.NewClient(newClient(tb, b))
	defer adm.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := adm.CreateTopic(ctx, partitions, 1, configs, name); err != nil {
		tb.Fatalf("kafkatest: create topic %s (%d partitions, configs %v): %v", name, partitions, showConfigs(configs), err)
	}
	tb.Cleanup(func() { deleteTopic(tb, b, name) })

	if err := topics.WaitLeaders(ctx, adm, name, partitions); err != nil {
		tb.Fatalf("kafkatest: %v", err)
	}
	return name
}

// Client returns a kgo.Client on the broker with the given extra options, closed in
// tb.Cleanup.
func Client(tb testing.TB, b Broker, opts ...kgo.Opt) *kgo.Client {
	tb.Helper()
	cl := newClient(tb, b, opts...)
	tb.Cleanup(cl.Close)
	return cl
}

func newClient(tb testing.TB, b Broker, opts ...kgo.Opt) *kgo.Client {
	tb.Helper()
	if len(b.Seeds) == 0 {
		tb.Fatal("kafkatest: Broker has no seeds (use kafkatest.Find)")
	}
	all := append([]kgo.Opt{kgo.SeedBrokers(b.Seeds...)}, opts...)
	cl, err := kgo.NewClient(all...)
	if err != nil {
		tb.Fatalf("kafkatest: new client: %v", err)
	}
	return cl
}

func find(tb testing.TB) (Broker, string, error) {
	if v := os.Getenv(envBrokers); strings.TrimSpace(v) != "" {
		b := Broker{Seeds: strings.FieldsFunc(v, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }), Kind: kindEnv, Real: true}
		if err := ping(b.Seeds, 30*time.Second); err != nil {
			return Broker{}, "", fmt.Errorf("%s=%s but no Kafka answers there: %w "+
				"(start one with `make kafka-start`, or unset %s)", envBrokers, v, err, envBrokers)
		}
		return b, "", nil
	}

	seeds, err := startContainer(tb)
	if err == nil {
		b := Broker{Seeds: seeds, Kind: kindTestcontainers, Real: true}
		return b, fmt.Sprintf("kafkatest: %s unset; using testcontainers %s at %s", envBrokers, containerImage(), strings.Join(seeds, ",")), nil
	}
	why := err.Error()

	c, kerr := kfake.NewCluster(kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(time.Second))
	if kerr != nil {
		return Broker{}, "", fmt.Errorf("no %s, no Docker (%s) and kfake failed too: %w", envBrokers, why, kerr)
	}
	// The cluster lives as long as the test process: it is shared by every test of the package.
	b := Broker{Seeds: c.ListenAddrs(), Kind: kindKfake, Real: false}
	banner := "kafkatest: FELL BACK TO kfake (in-process fake Kafka), NOT real Apache Kafka"
	notice := "\n" + strings.Repeat("*", len(banner)+4) + "\n* " + banner + " *\n" + strings.Repeat("*", len(banner)+4) +
		"\n  why: " + envBrokers + " is unset and no Docker engine answered (" + why + ")" +
		"\n  for a real broker: make kafka-start; export " + envBrokers + "=127.0.0.1:9092"
	// also on stderr once, visible in `go test -v` output and in the output of failed packages
	fmt.Fprintln(os.Stderr, banner)
	return b, notice, nil
}

// ping waits until one of the seeds answers a Kafka request (the broker may still be starting).
func ping(seeds []string, timeout time.Duration) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		err = cl.Ping(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func deleteTopic(tb testing.TB, b Broker, name string) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Seeds...))
	if err != nil {
		tb.Logf("kafkatest: cleanup: delete topic %s: %v", name, err)
		return
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	// A test may leave the broker stopped; a leftover topic is harmless, so only log.
	if _, err := kadm.NewClient(cl).DeleteTopic(ctx, name); err != nil {
		tb.Logf("kafkatest: cleanup: delete topic %s: %v", name, err)
	}
}

func topicName(prefix string) string {
	var sb strings.Builder
	for _, r := range prefix {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			sb.WriteRune(r)
		default:
			sb.WriteByte('_')
		}
	}
	p := sb.String()
	if len(p) > 200 {
		p = p[:200]
	}
	if p == "" {
		p = "test"
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	return p + "-" + hex.EncodeToString(rnd[:])
}

func showConfigs(configs map[string]*string) map[string]string {
	out := make(map[string]string, len(configs))
	for k, v := range configs {
		if v == nil {
			out[k] = "<nil>"
		} else {
			out[k] = *v
		}
	}
	return out
}

// errNoDocker is returned when no Docker engine answers.
var errNoDocker = errors.New("no Docker engine")

// hostPort joins host and port, bracketing IPv6 hosts.
func hostPort(host, port string) string { return net.JoinHostPort(host, port) }

// ReadCommitted returns every committed record of topic: it reads each
// partition up to the end offset it had when ReadCommitted was called,
// transaction markers included (they are not returned), and fails the test
// if that takes over a minute. It waits on that condition, not on a quiet
// period, which ends early on a busy machine where the first fetch alone
// can take seconds.
func ReadCommitted(tb testing.TB, b Broker, topic string) []*kgo.Record {
	tb.Helper()
	ctx := tb.Context()
	adm := kadm.NewClient(Client(tb, b))
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		tb.Fatal(err)
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		tb.Fatal(err)
	}
	left := map[int32]int64{} // partition: the end still to reach
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			tb.Fatalf("end offset of %s[%d]: %v", o.Topic, o.Partition, o.Err)
		}
		if s, ok := starts.Lookup(o.Topic, o.Partition); !ok || s.Offset < o.Offset {
			left[o.Partition] = o.Offset
		}
	})
	var out []*kgo.Record
	if len(left) == 0 {
		return out
	}
	cl := Client(tb, b, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for len(left) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			tb.Fatalf("%s: partitions %v not read to their end within a minute", topic, left)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
			if end, ok := left[r.Partition]; ok && r.Offset+1 >= end {
				delete(left, r.Partition)
			}
		})
	}
	return out
}
