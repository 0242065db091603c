package main

import (
	"context"
	"io"

	"github.com/leadbridge/leadbridge/cmd/dev"
)

func runDev(ctx context.Context, args []string, _ func(string) string, stdout io.Writer) error {
	fs := newFlags("dev", "Everything in one process for development: an in-process Kafka-compatible broker\n"+
		"(franz-go's kfake, data kept in --data), its topics, ingest, an enricher and the\n"+
		"Aurora sandbox with webhook subscriptions pointing at ingest. Same code paths as production.", stdout)
	var o dev.Options
	fs.StringVar(&o.DataDir, "data", ".leadbridge/dev", "`dir` for the broker's data (kept across restarts)")
	fs.IntVar(&o.KafkaPort, "kafka-port", 9092, "`port` of the in-process broker on 127.0.0.1")
	fs.StringVar(&o.HTTPAddr, "http-addr", "127.0.0.1:8080", "ingest `address`")
	fs.StringVar(&o.EnrichAddr, "enrich-addr", "127.0.0.1:8081", "enrich health/metrics `address`")
	fs.StringVar(&o.SandboxAddr, "sandbox-addr", "127.0.0.1:8090", "Aurora sandbox `address`")
	fs.BoolVar(&o.Verbose, "verbose", false, "log every request (info level); default warn")
	if helped, err := parseFlags(fs, args); helped || err != nil {
		return err
	}
	if err := dev.Config(o).Validate(dev.Need); err != nil {
		return usagef("invalid dev flags: %v", err)
	}
	return dev.Run(ctx, o, stdout)
}
