package bench

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/leadbridge/leadbridge/cmd/config"
)

// child is one server of the bench, running as a process of its own.
type child struct {
	name   string
	url    string
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Reader
	exited chan struct{}
	err    error // why it exited, once exited is closed
}

// startChild runs `exe args... name` with env, handing it a listener on a
// free loopback port as file descriptor 3.
func startChild(exe string, args, env []string, name string) (*child, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for %s: %w", name, err)
	}
	defer ln.Close() // the child has its own copy of the socket
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		return nil, fmt.Errorf("listener of %s: %w", name, err)
	}
	defer f.Close()
	c := &child{name: name, url: "http://" + ln.Addr().String(), exited: make(chan struct{})}
	c.cmd = exec.Command(exe, append(append([]string(nil), args...), name)...)
	c.cmd.Env, c.cmd.Stderr, c.cmd.ExtraFiles = env, os.Stderr, []*os.File{f}
	if c.in, err = c.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	c.out = bufio.NewReader(stdout)
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		c.err = c.cmd.Wait()
		close(c.exited)
	}()
	return c, nil
}

// pid is the child's process id, for its /proc entries.
func (c *child) pid() int { return c.cmd.Process.Pid }

// do sends the child one control line and waits for its "ok".
func (c *child) do(line string) error {
	if _, err := fmt.Fprintln(c.in, line); err != nil {
		return fmt.Errorf("%s: %w", c.name, err)
	}
	answer, err := c.out.ReadString('\n')
	if err != nil {
		return fmt.Errorf("%s: %w", c.name, err)
	}
	if answer = strings.TrimSpace(answer); answer != "ok" {
		return fmt.Errorf("%s: %s", c.name, answer)
	}
	return nil
}

// stop closes the child's stdin, which it takes as the signal to drain and
// exit, and waits up to 30 s for it before killing it.
func (c *child) stop() error {
	c.in.Close()
	select {
	case <-c.exited:
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
		return fmt.Errorf("%s did not stop within 30s after its stdin closed", c.name)
	}
	if c.err != nil {
		return fmt.Errorf("%s: %w", c.name, c.err)
	}
	return nil
}

// childEnv is the environment of the children: this process's, without
// its LEADBRIDGE_* variables (GOGC and GOMEMLIMIT pass through), plus the
// variables that configure cfg's Kafka, raw topic, tenant and account,
// with the log at level warn as in production.
func childEnv(cfg config.Config) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LEADBRIDGE_") {
			env = append(env, kv)
		}
	}
	t, a := cfg.Aurora.Tenants[0], cfg.LeadPro.Accounts[0]
	return append(env,
		"LEADBRIDGE_KAFKA_BROKERS="+strings.Join(cfg.Kafka.Brokers, ","),
		"LEADBRIDGE_TOPIC_RAW="+cfg.Topics.Raw,
		"LEADBRIDGE_LOG_LEVEL=warn",
		"LEADBRIDGE_AURORA_TENANT_ID="+t.ID,
		"LEADBRIDGE_AURORA_WEBHOOK_HEADER="+t.WebhookAuth.Header,
		"LEADBRIDGE_AURORA_WEBHOOK_TOKEN="+t.WebhookAuth.Tokens[0].Reveal(),
		"LEADBRIDGE_LEADPRO_ACCOUNT_ID="+a.ID,
		"LEADBRIDGE_LEADPRO_SIGNING_SECRET="+a.SigningSecrets[0].Reveal(),
	)
}

// stopAll stops every child, joining their errors.
func stopAll(cs []*child) error {
	var errs []error
	for _, c := range cs {
		errs = append(errs, c.stop())
	}
	return errors.Join(errs...)
}
