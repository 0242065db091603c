# leadbridge - developer and CI entry points. CI runs .ci/run, which runs `make test`
# against a real Kafka it starts. Add targets below; keep `test` the whole suite.

GO ?= go
# extra `go test` flags, e.g. make test GOTESTFLAGS='-run TestBridge -v'
GOTESTFLAGS ?=
KAFKA := $(abspath deploy/kafka/run-kafka.sh)

.PHONY: all test test-cluster build vet kafka-start kafka-stop kafka-status kafka-logs

all: build

# go test -timeout is per test binary; .ci/run bounds the whole run as well
test: tidy-check
	$(GO) vet ./... && $(GO) test -race -count=1 -timeout 12m $(GOTESTFLAGS) ./...

# go.mod and go.sum must be what `go mod tidy` makes them (-e: a module host
# that refuses does not fail the check; a real difference does)
tidy-check:
	@$(GO) mod tidy -e -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy -e" >&2; exit 1; }

# the 3-broker failure test (starts its own cluster; JDK 17, jars as for kafka-start)
test-cluster:
	$(GO) test -tags cluster -count=1 -v -timeout 7m ./deploy/cluster

build:
	$(GO) build -o bin/leadbridge ./cmd/leadbridge

vet:
	$(GO) vet ./...

# A real single-node Apache Kafka (KRaft, jars from Maven Central, no Docker) for the
# tests; see deploy/kafka/README.md. Paste the printed export line, then `make test`.
# Other ports: KAFKA_PORT=19092 KAFKA_CONTROLLER_PORT=19093 make kafka-start
# A broker that does not start (a busy port) fails here, loudly: never an empty export.
kafka-start:
	@out=$$($(KAFKA) start) || exit 1; eval "$$out"; \
	  [ -n "$$KAFKA_SEED_BROKERS" ] || { echo "kafka-start: the broker gave no address" >&2; exit 1; }; \
	  echo "export LEADBRIDGE_TEST_KAFKA_BROKERS=$$KAFKA_SEED_BROKERS LEADBRIDGE_TEST_KAFKA_CTL=$(KAFKA)"

kafka-stop:
	@$(KAFKA) stop

kafka-status:
	@$(KAFKA) status

kafka-logs:
	@$(KAFKA) logs
