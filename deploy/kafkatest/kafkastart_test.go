package kafkatest

import (
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// `make kafka-start` with its port taken fails loudly: a non-zero exit and
// no export line (it used to exit 0 printing an empty
// LEADBRIDGE_TEST_KAFKA_BROKERS=, which pointed the tests at whatever held
// the port). The script stops before it starts Java, so this is cheap.
func TestKafkaStartBusyPortFailsLoudly(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make here")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	cmd := exec.Command("make", "-s", "-C", filepath.Join("..", ".."), "kafka-start")
	cmd.Env = append(cmd.Environ(), "KAFKA_PORT="+strconv.Itoa(port), "KAFKA_CONTROLLER_PORT="+strconv.Itoa(freePort(t)),
		"KAFKA_WORK_DIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("make kafka-start succeeded with port %d taken:\n%s", port, out)
	}
	if strings.Contains(string(out), "export LEADBRIDGE_TEST_KAFKA_BROKERS") {
		t.Fatalf("make kafka-start printed an export line although it failed:\n%s", out)
	}
	if !strings.Contains(string(out), "already in use") || !strings.Contains(string(out), "KAFKA_PORT=") {
		t.Errorf("the error does not say the port is taken and how to pick another:\n%s", out)
	}
}
