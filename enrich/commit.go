package enrich

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// commit commits the done prefix of parts (nil: every owned partition).
func (e *Enricher) commit(ctx context.Context, parts []*partition) {
	e.commitMu.Lock()
	defer e.commitMu.Unlock()
	if parts == nil {
		e.mu.Lock()
		for _, p := range e.parts {
			parts = append(parts, p)
		}
		e.mu.Unlock()
	}
	offsets := map[int32]kgo.EpochOffset{}
	byID := map[int32]*partition{}
	for _, p := range parts {
		byID[p.id] = p
		if eo, ok := p.committable(); ok {
			offsets[p.id] = eo
		}
	}
	if len(offsets) == 0 {
		return
	}
	var cerr error
	e.client.CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{e.cfg.RawTopic: offsets},
		func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			cerr = errors.Join(err, commitErrors(resp))
			if err != nil || resp == nil {
				return
			}
			for _, t := range resp.Topics {
				for _, rp := range t.Partitions {
					if rp.ErrorCode == 0 {
						byID[rp.Partition].committedAt(offsets[rp.Partition].Offset)
					}
				}
			}
		})
	if cerr != nil {
		e.log.Warn("commit offsets", zap.Error(cerr))
	}
}

func commitErrors(resp *kmsg.OffsetCommitResponse) error {
	if resp == nil {
		return nil
	}
	var errs []error
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				errs = append(errs, fmt.Errorf("partition %d: %w", p.Partition, err))
			}
		}
	}
	return errors.Join(errs...)
}
