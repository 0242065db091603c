// Package cluster holds the 3-broker failure test (build tag cluster, run
// by .ci/run as its own step so the main suite stays fast):
//
//	go test -tags cluster -count=1 -v ./deploy/cluster
//
// It starts a 3-node KRaft cluster with deploy/kafka/run-cluster.sh, runs
// the real leadbridge binary (topics create, ingest, two enrich members,
// simulate as the load) as child processes, SIGKILLs the broker leading
// the most partitions under load and restarts it, then restarts every
// broker in turn. It checks that every webhook answered 200 is on raw and
// has its lead record, and prints the 503s, the longest time without a 200
// and the duplicates a read_committed reader sees as FIGURE lines.
//
// The nodes listen on six ports from LEADBRIDGE_TEST_CLUSTER_BASE_PORT, else
// on the first free run of six from 19192 (away from the single broker's
// 9092), and live in a temporary work dir; the jars are run-kafka.sh's
// (KAFKA_LIBS_DIR). Needs Java 17+: without it the test skips, and fails
// under CI.
//
// The package has no code outside its tests.
package cluster
