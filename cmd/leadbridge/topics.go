package main

import (
	"context"
	"fmt"
	"io"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/leadbridge/leadbridge/cmd/topics"
	"github.com/leadbridge/leadbridge/cmd/wire"
)

func runTopics(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	return dispatch(ctx, "leadbridge topics", map[string]command{
		"create": {"create the raw, leads, DLQ, erasures, state and retry topics; report drift of existing ones", runTopicsCreate},
	}, args, getenv, stdout)
}

func runTopicsCreate(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := newFlags("topics create", "Create the raw, leads, DLQ, erasures, state and retry topics with the settings leadbridge needs.\n"+
		"Existing topics are left alone; any setting that differs is reported as drift (exit 1 with --strict).", stdout)
	path := configFlag(fs, getenv)
	strict := fs.Bool("strict", false, "exit 1 when an existing topic's settings drifted")
	if helped, err := parseFlags(fs, args); helped || err != nil {
		return err
	}
	cfg, logger, err := setup(*path, getenv, need{configured: true, kafka: true})
	if err != nil {
		return err
	}
	client, err := wire.KafkaClient(cfg.Kafka, logger, nil, "admin")
	if err != nil {
		return err
	}
	defer client.Close()
	drift, err := topics.Ensure(ctx, kadm.NewClient(client), cfg.Topics, stdout)
	if err != nil {
		return err
	}
	if drift > 0 && *strict {
		return fmt.Errorf("%d topic setting(s) drifted", drift)
	}
	return nil
}
