// Package redisstore is the Redis engine.Store: each operation runs as one
// Lua script call that mirrors engine.Eval and engine.Step exactly, so a
// decision taken in Redis equals the one the memory store takes on the same
// sequence (TestConformance holds both, and miniredis, to that). An Acquire
// on a one-policy plan, the common case, runs a lean script of its own
// (fast.lua); everything else the general one (script.lua). Both keep the
// same stored values.
//
// Time comes from the Redis server (redis.call('TIME')) by default, so nodes
// with skewed clocks cannot double-spend; ClockClient uses the caller's
// Op.Now instead and exists to reproduce that bug. Scripts run by EVALSHA,
// falling back to EVAL when the server answers NOSCRIPT (script cache lost on
// restart, failover or resharding).
//
// One key's state for one policy lives at "<prefix>:{<key>}:<policy>": the
// hash tag keeps all of a key's policies in one cluster slot, so a plan is
// one atomic script call. Every key is written with a TTL (PX): the
// transition's TTL rounded up to milliseconds.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6380"})
//	st, err := redisstore.New(rdb, redisstore.Options{})
//	res, err := st.Apply(ctx, engine.Op{Kind: engine.Acquire, Key: "tenant-1", Plan: plan, Cost: engine.Tokens(1)})
package redisstore

import (
	"context"
	"crypto/sha1"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"

	"tollgate/engine"
)

// scriptSrc is the general script: every operation kind and algorithm,
// whole plans, several operations per call.
//
//go:embed script.lua
var scriptSrc string

// fastSrc is the lean script for the common case, one Acquire on a
// one-policy plan (see fastPath); it keeps script.lua's stored values.
//
//go:embed fast.lua
var fastSrc string

// scriptSHA and fastSHA are the SHA-1s EVALSHA names the scripts by.
var (
	scriptSHA = sha1Hex(scriptSrc)
	fastSHA   = sha1Hex(fastSrc)
)

func sha1Hex(src string) string {
	h := sha1.Sum([]byte(src))
	return hex.EncodeToString(h[:])
}

// ClockMode says where a decision's now comes from.
type ClockMode int

const (
	// ClockServer, the default, takes now from the Redis server's TIME
	// (seconds x 1e6 + microseconds), once per script call: every node
	// shares one clock.
	ClockServer ClockMode = iota
	// ClockClient takes now from each Op.Now. Nodes with skewed clocks then
	// disagree about time and can double-spend; it exists to reproduce that.
	ClockClient
)

// String returns "server" or "client".
func (c ClockMode) String() string {
	switch c {
	case ClockServer:
		return "server"
	case ClockClient:
		return "client"
	}
	return fmt.Sprintf("clockmode(%d)", int(c))
}

// DefaultPrefix is the key prefix when Options.Prefix is empty.
const DefaultPrefix = "tg"

// DefaultMaxBatch is the number of operations per script call in ApplyBatch
// when Options.MaxBatch is 0.
const DefaultMaxBatch = 64

// MaxMaxBatch bounds Options.MaxBatch, keeping one script call short: Redis
// runs scripts one at a time.
const MaxMaxBatch = 1024

// Options configure a Store. The zero value is usable.
type Options struct {
	// Prefix starts every key; "" means DefaultPrefix. It must not contain
	// braces (they would move the hash tag) or whitespace.
	Prefix string
	// Clock is where now comes from; the zero value is ClockServer.
	Clock ClockMode
	// MaxBatch is how many operations ApplyBatch puts in one script call;
	// 0 means DefaultMaxBatch. The calls of one batch are pipelined.
	MaxBatch int
}

// Store is an engine.Store on Redis. It is safe for concurrent use. It keeps
// no limiter state of its own, only the client and a cache of each plan's
// encoded parameters (plans are immutable; at most maxCachedPlans entries).
type Store struct {
	rdb      redis.UniversalClient
	prefix   string
	clock    ClockMode
	maxBatch int
	// group, when set, names the cluster slot (or ring shard key) of an
	// operation: one script call may only touch keys of one slot.
	group func(key string) string
	// minTTLms raises every key's PX TTL to at least this many milliseconds.
	// Tests set it when Op.Now is virtual time running apart from the
	// server's real time; the stored expiry keeps the semantics exact.
	minTTLms int64
	// plans caches planArgs by plan pointer; nplans counts its entries.
	plans  sync.Map
	nplans atomic.Int64
}

var _ engine.Store = (*Store)(nil)

// New returns a Store using client. It does not contact the server.
func New(client redis.UniversalClient, opts Options) (*Store, error) {
	var errs []error
	if client == nil {
		errs = append(errs, fmt.Errorf("%w: client: must not be nil", engine.ErrInvalid))
	}
	prefix := opts.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if strings.ContainsAny(prefix, "{} \t\r\n") || len(prefix) > 64 {
		errs = append(errs, fmt.Errorf("%w: prefix: must be at most 64 bytes without braces or whitespace, got %q", engine.ErrInvalid, opts.Prefix))
	}
	if opts.Clock != ClockServer && opts.Clock != ClockClient {
		errs = append(errs, fmt.Errorf("%w: clock: must be server or client, got %d", engine.ErrInvalid, int(opts.Clock)))
	}
	mb := opts.MaxBatch
	if mb == 0 {
		mb = DefaultMaxBatch
	}
	if mb < 1 || mb > MaxMaxBatch {
		errs = append(errs, fmt.Errorf("%w: max_batch: must be in [1, %d], got %d", engine.ErrInvalid, MaxMaxBatch, opts.MaxBatch))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("redisstore: %w", errors.Join(errs...))
	}
	s := &Store{rdb: client, prefix: prefix, clock: opts.Clock, maxBatch: mb}
	switch client.(type) {
	case *redis.ClusterClient:
		s.group = func(key string) string { return fmt.Sprint(slot(escapeKey(key))) }
	case *redis.Ring:
		s.group = escapeKey
	}
	return s, nil
}

// Script returns the general Lua script the store runs, for inspection and
// docs.
func Script() string { return scriptSrc }

// FastScript returns the lean Lua script the store runs for one Acquire on a
// one-policy plan, for inspection and docs.
func FastScript() string { return fastSrc }

// fastPath reports whether Apply runs op with the lean script: an Acquire on
// a one-policy plan, except a fixed window aligned to the calendar month
// (its bounds need the civil-calendar code only the general script has).
func fastPath(op engine.Op) bool {
	if op.Kind != engine.Acquire || len(op.Plan.Policies) != 1 {
		return false
	}
	p := op.Plan.Policies[0]
	return p.Algorithm != engine.FixedWindow || p.Calendar != engine.CalendarMonth
}

// escapeKey makes a caller's key safe inside a hash tag: '{', '}' and '%'
// are percent-encoded, so the tag is always the whole key.
func escapeKey(key string) string {
	if !strings.ContainsAny(key, "{}%") {
		return key
	}
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		switch c := key[i]; c {
		case '{', '}', '%':
			fmt.Fprintf(&b, "%%%02X", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// StateKey returns the Redis key holding policy's state for key:
// "<prefix>:{<key>}:<policy>", with braces and '%' in key percent-encoded.
func (s *Store) StateKey(key, policy string) string {
	return s.prefix + ":{" + escapeKey(key) + "}:" + policy
}

// call is one script call's encoded operations.
type call struct {
	ops  []int // indexes into the batch
	keys []string
	args []any
}

// Constant arguments, boxed once.
var (
	argZero any = "0"
	argOne  any = "1"
)

// maxCachedPlans bounds the per-plan argument cache; plans beyond it are
// encoded on every call.
const maxCachedPlans = 4096

// planArgs returns one plan's policy parameters for ARGV: per policy the
// algorithm code and two or three numbers whose meaning depends on it (see
// step in script.lua). Plans are immutable, so the encoding is cached by
// pointer.
func (s *Store) planArgs(pl *engine.Plan) []any {
	if v, ok := s.plans.Load(pl); ok {
		return v.([]any)
	}
	args := make([]any, 0, 4*len(pl.Policies))
	for _, p := range pl.Policies {
		code := p.Algorithm.Code()
		switch p.Algorithm {
		case engine.GCRA:
			args = append(args, code, p.CapNano, p.Rate)
		case engine.TokenBucket, engine.PTBCWD:
			args = append(args, code, p.CapNano, p.CeilNano, p.Rate)
		case engine.FixedWindow:
			args = append(args, code, p.CapMilli, p.WindowUS, calendarCode(p.Calendar))
		default: // sliding-window, concurrency
			args = append(args, code, p.CapMilli, p.WindowUS)
		}
	}
	if s.nplans.Load() < maxCachedPlans {
		if _, loaded := s.plans.LoadOrStore(pl, args); !loaded {
			s.nplans.Add(1)
		}
	}
	return args
}

// mode is ARGV[1]: the clock mode, then the TTL floor if any.
func (s *Store) mode() any {
	m := "0"
	if s.clock == ClockClient {
		m = "1"
	}
	if s.minTTLms > 0 {
		return m + strconv.FormatInt(s.minTTLms, 10)
	}
	if m == "1" {
		return argOne
	}
	return argZero
}

// appendOp appends one operation's ARGV values: kind, cost, policy count,
// now in client clock mode, then its plan's parameters.
func (s *Store) appendOp(args []any, op engine.Op) []any {
	args = append(args, int64(op.Kind), op.Cost, len(op.Plan.Policies))
	if s.clock == ClockClient {
		args = append(args, op.Now)
	}
	return append(args, s.planArgs(op.Plan)...)
}

// encoder builds one script call of several operations.
type encoder struct {
	s    *Store
	args []any
	keys []string
	ops  []int // indexes of the operations in the batch
}

func (s *Store) newEncoder() *encoder {
	return &encoder{s: s, args: []any{s.mode()}}
}

func (e *encoder) add(i int, op engine.Op) {
	e.args = e.s.appendOp(e.args, op)
	for _, p := range op.Plan.Policies {
		e.keys = append(e.keys, e.s.StateKey(op.Key, p.Name))
	}
	e.ops = append(e.ops, i)
}

func (e *encoder) call() call { return call{ops: e.ops, keys: e.keys, args: e.args} }

// calendarCode is the Lua script's calendar code.
func calendarCode(c engine.Calendar) int64 {
	switch c {
	case engine.CalendarHour:
		return 1
	case engine.CalendarDay:
		return 2
	case engine.CalendarMonth:
		return 3
	}
	return 0
}

// Apply applies one operation in one script call.
func (s *Store) Apply(ctx context.Context, op engine.Op) (engine.Result, error) {
	if err := op.Validate(); err != nil {
		return engine.Result{}, fmt.Errorf("redisstore: %w", err)
	}
	if fastPath(op) {
		return s.applyFast(ctx, op)
	}
	// One operation: encode directly, without an encoder's bookkeeping.
	args := make([]any, 0, 5+4*len(op.Plan.Policies))
	args = append(args, s.mode())
	args = s.appendOp(args, op)
	keys := make([]string, len(op.Plan.Policies))
	for i, p := range op.Plan.Policies {
		keys[i] = s.StateKey(op.Key, p.Name)
	}
	v, err := s.rdb.EvalSha(ctx, scriptSHA, keys, args...).Result()
	if isNoScript(err) {
		v, err = s.rdb.Eval(ctx, scriptSrc, keys, args...).Result()
	}
	if err != nil {
		return engine.Result{}, wrapErr("apply", err)
	}
	vals, err := replyValues(v, 1+5*len(op.Plan.Policies))
	if err != nil {
		return engine.Result{}, err
	}
	return decodeOp(vals, op), nil
}

// applyFast runs one Acquire on a one-policy plan with the lean script:
// ARGV is the algorithm code, the cost and the policy's parameters, then,
// only in client clock mode or with a TTL floor, the mode and now. The reply
// is now, flags, remaining, reset and retry-after; charged is the cost when
// allowed.
func (s *Store) applyFast(ctx context.Context, op engine.Op) (engine.Result, error) {
	// The whole command in one slice, for Do: EvalSha would copy keys and
	// arguments into a new one.
	pa := s.planArgs(op.Plan)
	cmd := make([]any, 0, 8+len(pa))
	cmd = append(cmd, "evalsha", fastSHA, argOne, s.StateKey(op.Key, op.Plan.Policies[0].Name), pa[0], op.Cost)
	cmd = append(cmd, pa[1:]...)
	if s.clock == ClockClient {
		cmd = append(cmd, s.mode(), op.Now)
	} else if s.minTTLms > 0 {
		cmd = append(cmd, s.mode())
	}
	v, err := s.rdb.Do(ctx, cmd...).Result()
	if isNoScript(err) {
		cmd[0], cmd[1] = "eval", fastSrc
		v, err = s.rdb.Do(ctx, cmd...).Result()
	}
	if err != nil {
		return engine.Result{}, wrapErr("apply", err)
	}
	vals, err := replyValues(v, 5)
	if err != nil {
		return engine.Result{}, err
	}
	p := op.Plan.Policies[0]
	flags := vals[1].(int64)
	d := engine.Decision{
		Allowed:      flags&1 != 0,
		Permanent:    flags&2 != 0,
		Policy:       p.Name,
		Limit:        p.CapMilli,
		Remaining:    vals[2].(int64),
		ResetUS:      vals[3].(int64),
		RetryAfterUS: vals[4].(int64),
	}
	if d.Allowed {
		d.Charged = op.Cost
	}
	return engine.Result{Decision: d, NowUS: vals[0].(int64), Policies: []engine.Decision{d}}, nil
}

// ApplyBatch validates every operation, then applies them in script calls of
// up to MaxBatch operations each, all calls pipelined in one round trip. Each
// operation is atomic; operations on the same key are applied in order. On
// an invalid operation nothing is applied. On a store error some calls may
// have been applied and the results are nil.
func (s *Store) ApplyBatch(ctx context.Context, ops []engine.Op) ([]engine.Result, error) {
	if len(ops) == 0 {
		return nil, nil
	}
	for i, op := range ops {
		if err := op.Validate(); err != nil {
			return nil, fmt.Errorf("redisstore: batch op %d: %w", i, err)
		}
	}
	calls := s.split(ops)
	cmds := make([]*redis.Cmd, len(calls))
	pipe := s.rdb.Pipeline()
	for i, c := range calls {
		cmds[i] = pipe.EvalSha(ctx, scriptSHA, c.keys, c.args...)
	}
	_, _ = pipe.Exec(ctx)
	// Calls the server did not know the script for had no effect: redo them
	// with EVAL, in order.
	var retry []int
	for i, cmd := range cmds {
		if err := cmd.Err(); err != nil {
			if !isNoScript(err) {
				return nil, wrapErr("batch", err)
			}
			retry = append(retry, i)
		}
	}
	if len(retry) > 0 {
		pipe := s.rdb.Pipeline()
		for _, i := range retry {
			c := calls[i]
			cmds[i] = pipe.Eval(ctx, scriptSrc, c.keys, c.args...)
		}
		_, _ = pipe.Exec(ctx)
		for _, i := range retry {
			if err := cmds[i].Err(); err != nil {
				return nil, wrapErr("batch", err)
			}
		}
	}
	out := make([]engine.Result, len(ops))
	for i, c := range calls {
		if err := decode(cmds[i].Val(), c.ops, ops, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// split groups ops into script calls of at most maxBatch operations, each
// call within one cluster slot when the client is a cluster or ring.
func (s *Store) split(ops []engine.Op) []call {
	var calls []call
	if s.group == nil {
		for lo := 0; lo < len(ops); lo += s.maxBatch {
			e := s.newEncoder()
			for i := lo; i < min(lo+s.maxBatch, len(ops)); i++ {
				e.add(i, ops[i])
			}
			calls = append(calls, e.call())
		}
		return calls
	}
	// One open call per group; a full call is closed at once, the rest at the
	// end, in the order they were opened. Within a group order is kept.
	open := map[string]*encoder{}
	var pending []*encoder
	for i, op := range ops {
		g := s.group(op.Key)
		e := open[g]
		if e == nil {
			e = s.newEncoder()
			open[g] = e
			pending = append(pending, e)
		}
		e.add(i, op)
		if len(e.ops) == s.maxBatch {
			calls = append(calls, e.call())
			delete(open, g)
		}
	}
	for _, e := range pending {
		if len(e.ops) > 0 && len(e.ops) < s.maxBatch {
			calls = append(calls, e.call())
		}
	}
	return calls
}

// replyValues checks a script reply is an array of n integers.
func replyValues(v any, n int) ([]any, error) {
	vals, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("redisstore: script reply: want an array, got %T", v)
	}
	if len(vals) != n {
		return nil, fmt.Errorf("redisstore: script reply: want %d values, got %d", n, len(vals))
	}
	for i, x := range vals {
		if _, ok := x.(int64); !ok {
			return nil, fmt.Errorf("redisstore: script reply[%d]: want an integer, got %T", i, x)
		}
	}
	return vals, nil
}

// decode turns one script call's reply into the results of the operations
// it carried (idx: their indexes in ops and out).
func decode(v any, idx []int, ops []engine.Op, out []engine.Result) error {
	n := 0
	for _, i := range idx {
		n += 1 + 5*len(ops[i].Plan.Policies)
	}
	vals, err := replyValues(v, n)
	if err != nil {
		return err
	}
	for _, i := range idx {
		out[i] = decodeOp(vals, ops[i])
		vals = vals[1+5*len(ops[i].Plan.Policies):]
	}
	return nil
}

// decodeOp rebuilds one operation's result from its reply values (checked
// by replyValues): now, then 5 per policy (flags, remaining, reset,
// retry-after, charged). The binding decision is engine.Binding's choice.
func decodeOp(vals []any, op engine.Op) engine.Result {
	r := engine.Result{NowUS: vals[0].(int64), Policies: make([]engine.Decision, len(op.Plan.Policies))}
	allowed := true
	for k, p := range op.Plan.Policies {
		f := vals[1+5*k : 6+5*k]
		flags := f[0].(int64)
		r.Policies[k] = engine.Decision{
			Allowed:      flags&1 != 0,
			Permanent:    flags&2 != 0,
			Policy:       p.Name,
			Limit:        p.CapMilli,
			Remaining:    f[1].(int64),
			ResetUS:      f[2].(int64),
			RetryAfterUS: f[3].(int64),
			Charged:      f[4].(int64),
		}
		allowed = allowed && r.Policies[k].Allowed
	}
	r.Decision = r.Policies[engine.Binding(r.Policies, allowed)]
	r.Allowed = allowed
	return r
}

// isNoScript reports a server that does not have the script cached.
func isNoScript(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT")
}

// unavailablePrefixes are server error replies that mean "not now" rather
// than a bad request: the failure policy should treat them as an outage.
var unavailablePrefixes = []string{"LOADING", "READONLY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "BUSY", "NOREPLICAS", "MOVED", "ASK"}

// wrapErr wraps err with context; connection errors, timeouts and servers
// that cannot serve now wrap engine.ErrStoreUnavailable.
func wrapErr(what string, err error) error {
	var rerr redis.Error
	if errors.As(err, &rerr) {
		// A reply from the server: unavailable only if it says so.
		msg := rerr.Error()
		for _, p := range unavailablePrefixes {
			if strings.HasPrefix(msg, p) {
				return fmt.Errorf("redisstore: %s: %w: %w", what, engine.ErrStoreUnavailable, err)
			}
		}
		return fmt.Errorf("redisstore: %s: %w", what, err)
	}
	// No reply: connection refused or lost, timeout, pool exhausted or closed.
	return fmt.Errorf("redisstore: %s: %w: %w", what, engine.ErrStoreUnavailable, err)
}

// Slots is the number of Redis Cluster hash slots.
const Slots = 16384

// KeySlot is the Redis Cluster hash slot holding every policy's state of a
// caller's key: the slot of its hash tag, the escaped key (see StateKey).
// The simulator places keys on cluster shards with it, so both agree on
// which shard a client's key lives on. key must be non-empty, as
// engine.Op.Validate requires (an empty tag "{}" hashes the whole state key).
func KeySlot(key string) int { return int(slot(escapeKey(key))) }

// slot is the Redis Cluster hash slot of a hash tag's content:
// CRC16 (XMODEM) mod Slots.
func slot(tag string) uint16 {
	var crc uint16
	for i := 0; i < len(tag); i++ {
		crc ^= uint16(tag[i]) << 8
		for b := 0; b < 8; b++ {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc % Slots
}
