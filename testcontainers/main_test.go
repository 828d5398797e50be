package testcontainers

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	tc "github.com/testcontainers/testcontainers-go"
)

func TestMain(m *testing.M) {
	// Before the first testcontainers call: the config is read once. Ryuk's
	// image cannot be pulled (no registry); exactly "true" disables it.
	os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	// The sandbox has /.dockerenv, so testcontainers would report the bridge
	// gateway as the host; the engine shares our network namespace.
	if os.Getenv("TESTCONTAINERS_HOST_OVERRIDE") == "" {
		os.Setenv("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")
	}
	os.Exit(m.Run())
}

var (
	preflightOnce sync.Once
	preflightErr  error
)

// required reports whether a missing engine or image must fail the test.
func required() bool { return os.Getenv("TOLLGATE_REQUIRE_DOCKER") == "1" }

// enabled reports whether the container suite should run at all: it takes
// minutes, so plain `go test ./...` skips it unless asked.
func enabled() bool { return required() || os.Getenv("TOLLGATE_CONTAINERS") == "1" }

// needDocker skips (or, with TOLLGATE_REQUIRE_DOCKER=1, fails) the test
// unless a Docker engine answers and every image exists, building the
// images with `make images` once if some are missing.
func needDocker(t *testing.T) {
	t.Helper()
	if !enabled() {
		t.Skip("container suite: set TOLLGATE_CONTAINERS=1 or run `make test-containers` (needs Docker; minutes)")
	}
	preflightOnce.Do(func() { preflightErr = preflight() })
	if preflightErr == nil {
		return
	}
	if required() {
		t.Fatalf("container suite (TOLLGATE_REQUIRE_DOCKER=1): %v", preflightErr)
	}
	t.Skipf("container suite skipped: %v", preflightErr)
}

// preflight checks the engine and the images.
func preflight() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cli, err := tc.NewDockerClientWithOpts(ctx)
	if err != nil {
		return fmt.Errorf("no Docker engine: %w", err)
	}
	defer cli.Close()
	if err := Sweep(ctx, cli); err != nil {
		return err
	}
	missing := func() []string {
		var m []string
		for _, img := range Images {
			if _, err := cli.ImageInspect(ctx, img); err != nil {
				m = append(m, img)
			}
		}
		return m
	}
	m := missing()
	if len(m) == 0 {
		return nil
	}
	root, err := filepath.Abs("..")
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "make", "-C", root, "images")
	out, err := cmd.CombinedOutput()
	if m = missing(); len(m) > 0 {
		return fmt.Errorf("images missing after `make images` (%v): %s\n%s", err, strings.Join(m, ", "), out)
	}
	return nil
}
