package enrich

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// lagTimeout bounds one lag measurement, so a broker that does not answer
// delays the next one by at most this.
const lagTimeout = 5 * time.Second

// watchLag keeps leadbridge_enrich_consumer_lag true to its name, in both
// modes: every LagInterval it asks the brokers for the raw partitions' high
// watermarks and the group's committed offsets, and sets the gauge of each
// raw partition this member owns to the difference. It returns when ctx ends.
func (e *Enricher) watchLag(ctx context.Context) {
	t := time.NewTicker(e.cfg.LagInterval)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := e.measureLag(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil && !failing:
			// Once per failing streak: a broker that is down is reported
			// by everything else already. Errors name topics and
			// partitions, never record contents.
			e.log.Warn("consumer lag not measured; the gauge keeps its last value", zap.Error(err))
		case err != nil:
			e.log.Debug("consumer lag not measured", zap.Error(err))
		case failing:
			e.log.Info("consumer lag measured again")
		}
		failing = err != nil
	}
}

// measureLag sets the lag gauge of every owned raw partition from one look
// at the brokers: the high watermark minus the group's committed offset, or
// minus the log start offset where the group has committed nothing.
func (e *Enricher) measureLag(ctx context.Context) error {
	e.mu.Lock()
	cl := e.client
	owned := len(e.parts)
	e.mu.Unlock()
	if cl == nil || owned == 0 {
		return nil
	}
	group, _ := cl.OptValue(kgo.ConsumerGroup).(string)
	ctx, cancel := context.WithTimeout(ctx, min(lagTimeout, e.cfg.LagInterval))
	defer cancel()
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, e.cfg.RawTopic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("list raw end offsets: %w", err)
	}
	committed, err := adm.FetchOffsets(ctx, group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		committed, err = nil, nil // nothing committed yet
	}
	if err != nil {
		return fmt.Errorf("fetch the group's committed offsets: %w", err)
	}
	from := map[int32]int64{}
	needStart := false
	for p := range ends[e.cfg.RawTopic] {
		if o, ok := committed.Lookup(e.cfg.RawTopic, p); ok && o.Err == nil && o.At >= 0 {
			from[p] = o.At
		} else {
			needStart = true
		}
	}
	if needStart { // only until the group's first commit on a partition
		starts, err := adm.ListStartOffsets(ctx, e.cfg.RawTopic)
		if err == nil {
			err = starts.Error()
		}
		if err != nil {
			return fmt.Errorf("list raw start offsets: %w", err)
		}
		for p, s := range starts[e.cfg.RawTopic] {
			if _, ok := from[p]; !ok {
				from[p] = s.Offset
			}
		}
	}
	// Under e.mu, as drop and restart delete a leaving partition's series:
	// a partition that left while the brokers answered gets none back.
	e.mu.Lock()
	defer e.mu.Unlock()
	for id := range e.parts {
		end, ok := ends.Lookup(e.cfg.RawTopic, id)
		f, known := from[id]
		if !ok || !known {
			continue
		}
		e.m.lag.WithLabelValues(fmt.Sprint(id)).Set(float64(max(end.Offset-f, 0)))
	}
	return nil
}
