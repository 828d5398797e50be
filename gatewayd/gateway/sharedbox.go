package gateway

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The shared penalty box (penalty.shared). A node that boxes a key publishes
// "<milliseconds> <limiter key>" on "<prefix>:penalty"; every node (itself
// included) boxes the key for that long from when the message arrives, so
// the nodes' clocks never meet. Keys are hashes ("k:<sha256>"), never
// secrets.

// penaltyChannel is the Redis channel of the shared box.
func penaltyChannel(rt *runtime) string { return rt.cfg.Store.Redis.Prefix + ":penalty" }

// publishTimeout bounds one publish; it runs off the request path.
const publishTimeout = time.Second

// publishPenalty tells the other nodes that key is boxed for d.
func (g *Gateway) publishPenalty(rt *runtime, key string, d time.Duration) {
	if !rt.cfg.Penalty.Shared || rt.backend.rdb == nil {
		return
	}
	msg := strconv.FormatInt(d.Milliseconds(), 10) + " " + key
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
		defer cancel()
		if err := rt.backend.rdb.Publish(ctx, penaltyChannel(rt), msg).Err(); err != nil {
			g.log.Warn("penalty box: publish failed", "err", err)
		}
	}()
}

// parsePenalty reads a shared-box message.
func parsePenalty(msg string) (key string, d time.Duration, err error) {
	ms, key, ok := strings.Cut(msg, " ")
	n, perr := strconv.ParseInt(ms, 10, 64)
	if !ok || perr != nil || n <= 0 || n > int64(24*time.Hour/time.Millisecond) || key == "" {
		return "", 0, fmt.Errorf("penalty box: malformed message %q", msg)
	}
	return key, time.Duration(n) * time.Millisecond, nil
}

// watchPenalty subscribes rt's store client to the shared box, once per
// store client (a reload that keeps the store keeps the subscription).
func (g *Gateway) watchPenalty(rt *runtime) {
	b := rt.backend
	if !rt.cfg.Penalty.Shared || b.rdb == nil || b.penaltySub != nil {
		return
	}
	ps := b.rdb.Subscribe(context.Background(), penaltyChannel(rt))
	b.penaltySub = ps
	go func() {
		for m := range ps.Channel() { // ends when the store client closes
			key, d, err := parsePenalty(m.Payload)
			if err != nil {
				g.log.Warn(err.Error())
				continue
			}
			cur := g.rt.Load()
			if !cur.cfg.Penalty.Shared {
				continue
			}
			cur.box.Put(key, time.Now(), d)
			g.penaltyReceived.Add(1)
		}
	}()
}
