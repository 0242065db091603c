// Package kafkatest finds the Kafka cluster that leadbridge's tests talk to,
// and creates topics and clients on it.
//
// [Find] looks, in this order, for:
//
//  1. LEADBRIDGE_TEST_KAFKA_BROKERS (comma separated host:port list): a real
//     Apache Kafka started outside the test, normally by deploy/kafka/run-kafka.sh
//     (`make kafka-start` for developers; .ci/run in CI always sets it);
//  2. a testcontainers-go apache/kafka container, when a Docker engine answers
//     and the tests are built with -tags testcontainers (so that testcontainers
//     and its dependencies stay out of `go build ./...`);
//  3. an in-process kfake cluster (github.com/twmb/franz-go/pkg/kfake), with a
//     loud log line: kfake is a fake and differs from Kafka in corner cases.
//
// The result is shared by all tests of one test binary (one package). Tests
// that depend on behaviour only a real broker has (stopping the broker,
// compaction timing, exact error codes) call [RequireReal], which skips
// without a real broker, except under CI (CI env set) where it fails the test
// so that CI can never count a skip as a pass.
//
// Every test should create its own topics with [Topic] (unique names, deleted
// at cleanup): the brokers run with auto.create.topics.enable=false.
//
// Stopping a broker mid-test: go test runs packages in parallel, so a test must
// not stop the shared broker under the other packages' tests. It starts a private
// one instead with [StartPrivate], which runs the script whose absolute path
// LEADBRIDGE_TEST_KAFKA_CTL holds (set by .ci/run and printed by `make
// kafka-start`; the jars are already resolved by then) on free ports in a
// temporary work dir; [Private.Stop] and [Private.Start] take it down and bring
// it back with its data.
// Measured: a fresh private broker serves in about 3 s, start after stop about
// 2.5 s, start after kill about 7 s; franz-go clients need a few more seconds to
// reconnect (see deploy/kafka/README.md).
//
// Typical use:
//
//	func TestBridge(t *testing.T) {
//		b := kafkatest.Find(t)
//		topic := kafkatest.Topic(t, b, "leads", 3, nil)
//		cl := kafkatest.Client(t, b, kgo.ConsumeTopics(topic))
//		...
//	}
package kafkatest
