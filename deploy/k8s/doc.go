// Package k8s holds the Kubernetes manifests (kustomize: base/ and
// overlays/dev, overlays/production, overlays/plain-hpa, overlays/strimzi)
// and their test.
// The package has no code outside its tests: the test builds every overlay
// with kustomize's Go API, decodes every object strictly into k8s.io/api
// types, validates the KEDA ScaledObject against KEDA's CRD schema
// (testdata/keda.sh_scaledobjects.yaml, kedacore/keda v2.20.2) and the
// strimzi overlay's KafkaTopics against Strimzi's
// (testdata/kafkatopic.strimzi.io_v1beta2.yaml), and loads
// each container's mounted configuration with leadbridge's own loader; each
// container's args go through the built binary's flag parser (with --help).
// kustomize and k8s.io/api are imported by the test only, so the binary
// never compiles them.
package k8s
