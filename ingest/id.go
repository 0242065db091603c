package ingest

import (
	"bufio"
	"crypto/rand"
	"io"
	"sync"

	"github.com/google/uuid"
)

// idRandom feeds UUIDv7 generation from crypto/rand through a buffer: one
// read of the system's randomness per 256 ids instead of one per id. ce_ids
// are unique names, not secrets; the randomness is still cryptographic.
var idRandom = &bufferedRandom{r: bufio.NewReaderSize(rand.Reader, 16*256)}

type bufferedRandom struct {
	mu sync.Mutex
	r  *bufio.Reader
}

func (b *bufferedRandom) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return io.ReadFull(b.r, p)
}

// newEventID returns a UUIDv7, the ce_id of a delivery: time-ordered, so the
// raw topic's ids sort by receipt.
func newEventID() string { return uuid.Must(uuid.NewV7FromReader(idRandom)).String() }
