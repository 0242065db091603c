//go:build testcontainers

package kafkatest

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

// kafkaImage is the image of the testcontainers fallback; same version as
// deploy/kafka/run-kafka.sh. LEADBRIDGE_TEST_KAFKA_IMAGE overrides it.
const kafkaImage = "apache/kafka:4.4.0"

func containerImage() string {
	if img := os.Getenv("LEADBRIDGE_TEST_KAFKA_IMAGE"); img != "" {
		return img
	}
	return kafkaImage
}

// dockerHealthy reports whether a Docker engine answers, the way
// testcontainers.SkipIfProviderIsNotHealthy finds out (but without skipping).
func dockerHealthy(ctx context.Context) (err error) {
	defer func() {
		if r := recover(); r != nil { // testcontainers panics on some broken setups
			err = fmt.Errorf("%w: testcontainers panicked: %v", errNoDocker, r)
		}
	}()
	provider, err := testcontainers.ProviderDefault.GetProvider()
	if err != nil {
		return fmt.Errorf("%w: %v", errNoDocker, err)
	}
	defer provider.Close()
	if err := provider.Health(ctx); err != nil {
		return fmt.Errorf("%w: %v", errNoDocker, err)
	}
	return nil
}

// advertisedFile is where the container's start command waits for its advertised
// listener: the host port Docker maps to 9092 is known only after the container starts.
const advertisedFile = "/tmp/leadbridge-advertised-listeners"

// startContainer runs a single-node KRaft apache/kafka container configured like
// deploy/kafka/run-kafka.sh and returns its host-reachable bootstrap address. The
// container is not terminated by the test: it is shared by all tests of the process,
// and testcontainers' reaper (Ryuk) removes it when the process exits.
func startContainer(tb testing.TB) (seeds []string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err = dockerHealthy(ctx)
	cancel()
	if err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("testcontainers panicked: %v", r)
		}
	}()

	img := containerImage()
	tb.Logf("kafkatest: %s unset, Docker answers: starting %s", envBrokers, img)
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	writeAdvertised := func(ctx context.Context, c testcontainers.Container) error {
		host, err := c.Host(ctx)
		if err != nil {
			return err
		}
		port, err := c.MappedPort(ctx, "9092/tcp")
		if err != nil {
			return err
		}
		return c.CopyToContainer(ctx, []byte("PLAINTEXT://"+hostPort(host, port.Port())), advertisedFile, 0o644)
	}

	ctr, err := testcontainers.Run(ctx, img,
		testcontainers.WithExposedPorts("9092/tcp"),
		testcontainers.WithEnv(map[string]string{
			"KAFKA_NODE_ID":                                          "1",
			"KAFKA_PROCESS_ROLES":                                    "broker,controller",
			"KAFKA_LISTENERS":                                        "PLAINTEXT://0.0.0.0:9092,CONTROLLER://localhost:9093",
			"KAFKA_CONTROLLER_LISTENER_NAMES":                        "CONTROLLER",
			"KAFKA_INTER_BROKER_LISTENER_NAME":                       "PLAINTEXT",
			"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP":                   "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
			"KAFKA_CONTROLLER_QUORUM_VOTERS":                         "1@localhost:9093",
			"KAFKA_DEFAULT_REPLICATION_FACTOR":                       "1",
			"KAFKA_MIN_INSYNC_REPLICAS":                              "1",
			"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR":                 "1",
			"KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS":                     "1",
			"KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR":         "1",
			"KAFKA_TRANSACTION_STATE_LOG_MIN_ISR":                    "1",
			"KAFKA_TRANSACTION_STATE_LOG_NUM_PARTITIONS":             "1",
			"KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": "1",
			"KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR":            "1",
			"KAFKA_NUM_PARTITIONS":                                   "1",
			"KAFKA_AUTO_CREATE_TOPICS_ENABLE":                        "false",
			"KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS":                 "0",
			"KAFKA_GROUP_MIN_SESSION_TIMEOUT_MS":                     "1000",
			"KAFKA_LOG_CLEANER_BACKOFF_MS":                           "1000",
			"KAFKA_HEAP_OPTS":                                        "-Xms256m -Xmx512m",
		}),
		// wait for the advertised listener, then run the image's own start script
		testcontainers.WithEntrypoint("sh", "-c"),
		testcontainers.WithCmd(`while [ ! -s `+advertisedFile+` ]; do sleep 0.1; done; `+
			`KAFKA_ADVERTISED_LISTENERS="$(cat `+advertisedFile+`)"; export KAFKA_ADVERTISED_LISTENERS; `+
			`exec /etc/kafka/docker/run`),
		testcontainers.WithAdditionalLifecycleHooks(testcontainers.ContainerLifecycleHooks{
			PostStarts: []testcontainers.ContainerHook{writeAdvertised}, // runs before the wait strategy
		}),
		testcontainers.WithWaitStrategyAndDeadline(3*time.Minute, wait.ForLog("Kafka Server started")),
	)
	if err != nil {
		if ctr != nil {
			_ = testcontainers.TerminateContainer(ctr)
		}
		return nil, fmt.Errorf("start %s: %w", img, err)
	}
	ep, err := ctr.PortEndpoint(ctx, "9092/tcp", "")
	if err != nil {
		_ = testcontainers.TerminateContainer(ctr)
		return nil, fmt.Errorf("%s: mapped port: %w", img, err)
	}
	if err := ping([]string{ep}, 60*time.Second); err != nil {
		_ = testcontainers.TerminateContainer(ctr)
		return nil, fmt.Errorf("%s started but does not answer at %s: %w", img, ep, err)
	}
	return []string{ep}, nil
}
