// Package compose holds the configuration docker-compose.yml mounts
// (leadbridge.yaml) and the test that keeps the compose file and
// deploy/Dockerfile true without a Docker engine: the compose file is loaded
// with the Compose specification's own loader and checked against the built
// binary and its configuration loader. The package has no code outside its
// tests, so compose-go is never compiled into leadbridge.
package compose
