package main

import (
	"context"
	"io"

	"github.com/leadbridge/leadbridge/cmd/wire"
	"github.com/leadbridge/leadbridge/enrich/operate"
)

func runDLQ(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	return dispatch(ctx, "leadbridge dlq", map[string]command{
		"redrive": {"put matching DLQ records back on raw, exactly once", runDLQRedrive},
	}, args, getenv, stdout)
}

const redriveSummary = `Put the matching DLQ records back on the raw topic with their original key,
value and CloudEvents headers (same ce_id) plus leadbridge_redrive_count, so
enrich processes them again. Exactly once: the records and the position are
committed in one transaction, in a consumer group named after the filters, so
running the same redrive twice redrives nothing the second time (a --since
given as a duration names the group by the duration; a --until given as one
makes a new group at every run). --dry-run prints the counts by reason and key
and writes nothing.`

func runDLQRedrive(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := newFlags("dlq redrive", redriveSummary, stdout)
	path := configFlag(fs, getenv)
	var reasons reasonsFlag
	var keys listFlag
	var since, until timeFlag
	fs.Var(&reasons, "reason", "only records dead-lettered for this `reason` (leadbridge_dlq_reason; repeatable; one enrich never writes is refused)")
	fs.Var(&keys, "key", "only records with this lead `key` (repeatable)")
	fs.Var(&since, "since", "only records dead-lettered at or after `T` (RFC 3339, or a duration ago: 2h)")
	fs.Var(&until, "until", "only records dead-lettered before `T`")
	dry := fs.Bool("dry-run", false, "count the matching records by reason and key; write nothing")
	if helped, err := parseFlags(fs, args); helped || err != nil {
		return err
	}
	if !since.t.IsZero() && !until.t.IsZero() && !until.t.After(since.t) {
		return usagef("--until must be after --since (run 'leadbridge dlq redrive --help')")
	}
	cfg, opts, logger, err := setupKafka(*path, getenv, "redrive")
	if err != nil {
		return err
	}
	rep, err := operate.Redrive(ctx, operate.RedriveOptions{Kafka: opts, Topics: wire.OperateTopics(cfg),
		Reasons: reasons.listFlag, Keys: keys, Since: since.t, SinceAgo: since.ago, Until: until.t, DryRun: *dry, Logger: logger})
	if err == nil || rep.Scanned > 0 { // a failure before the first record read is no "0 of 0"
		rep.WriteText(stdout)
	}
	return err
}
