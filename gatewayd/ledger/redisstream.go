package ledger

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// StreamSink appends each record to a Redis Stream (XADD key MAXLEN ~ n * r
// <json>), one pipelined round trip per batch. It is used by one Writer
// goroutine at a time.
type StreamSink struct {
	rdb     *redis.Client
	key     string
	maxLen  int64
	timeout time.Duration
}

// NewStreamSink returns a sink writing to the stream key at addr. It does
// not contact the server.
func NewStreamSink(addr, password, key string, maxLen int64, timeout time.Duration) *StreamSink {
	rdb := redis.NewClient(&redis.Options{Addr: addr, Password: password, DialTimeout: timeout,
		ReadTimeout: timeout, WriteTimeout: timeout, PoolSize: 2, MaxRetries: 1})
	return &StreamSink{rdb: rdb, key: key, maxLen: maxLen, timeout: 5 * timeout}
}

// Send appends the lines.
func (s *StreamSink) Send(lines [][]byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout+time.Duration(len(lines))*time.Millisecond)
	defer cancel()
	pipe := s.rdb.Pipeline()
	for _, l := range lines {
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: s.key, MaxLen: s.maxLen, Approx: true, Values: []any{"r", l}})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("ledger: redis stream %q: %w", s.key, err)
	}
	return nil
}

// Close closes the client.
func (s *StreamSink) Close() error { return s.rdb.Close() }
