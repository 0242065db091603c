package kafkatest

import (
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// EnvCtl names the variable holding the path of deploy/kafka/run-kafka.sh;
// .ci/run and `make kafka-start` set it.
const EnvCtl = "LEADBRIDGE_TEST_KAFKA_CTL"

// Private is a real broker owned by one test, which may stop and start it.
// Tests of other packages run in parallel on the shared broker, so a test
// that takes a broker down must take down its own.
type Private struct {
	Broker
	ctl string
	env []string
}

// StartPrivate starts a single-node Apache Kafka of the test's own with the
// script named by LEADBRIDGE_TEST_KAFKA_CTL, on free loopback ports in a
// temporary work dir, and removes it at cleanup. Without the script it skips
// (fails under CI, which always sets it).
func StartPrivate(tb testing.TB) *Private {
	tb.Helper()
	ctl := os.Getenv(EnvCtl)
	if ctl == "" {
		msg := "kafkatest: " + tb.Name() + " needs its own real broker; set " + EnvCtl + " to deploy/kafka/run-kafka.sh (make kafka-start prints it)"
		if os.Getenv("CI") != "" {
			tb.Fatal(msg + " [CI: failing instead of skipping]")
		}
		tb.Skip(msg)
	}
	port, cport := freePort(tb), freePort(tb)
	p := &Private{ctl: ctl, env: append(os.Environ(),
		"KAFKA_PORT="+strconv.Itoa(port), "KAFKA_CONTROLLER_PORT="+strconv.Itoa(cport),
		"KAFKA_WORK_DIR="+tb.TempDir(), "KAFKA_HEAP_OPTS=-Xms128m -Xmx384m")}
	p.Broker = Broker{Seeds: []string{"127.0.0.1:" + strconv.Itoa(port)}, Kind: kindEnv, Real: true}
	p.Start(tb)
	tb.Cleanup(func() { p.do(tb, "kill") })
	return p
}

// Start starts (or restarts) the broker and waits until it serves.
func (p *Private) Start(tb testing.TB) { tb.Helper(); p.do(tb, "start") }

// Stop stops the broker (controlled shutdown).
func (p *Private) Stop(tb testing.TB) { tb.Helper(); p.do(tb, "stop") }

func (p *Private) do(tb testing.TB, verb string) {
	tb.Helper()
	cmd := exec.Command("bash", p.ctl, verb)
	cmd.Env = p.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("kafkatest: %s %s: %v\n%s", p.ctl, verb, err, strings.TrimSpace(string(out)))
	}
}

// FreeAddr returns a 127.0.0.1 address nothing listens on right now.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(tb)))
}

func freePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Kill SIGKILLs the broker (a crash); Start brings it back with its logs.
func (p *Private) Kill(tb testing.TB) { tb.Helper(); p.do(tb, "kill") }
