package redact

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://alice:s3cret@idp.example/jwks", "https://REDACTED@idp.example/jwks"},
		{`Get "https://tok@idp.example/x": dial tcp`, `Get "https://REDACTED@idp.example/x": dial tcp`},
		{"redis://:hunter22@127.0.0.1:6379/0", "redis://REDACTED@127.0.0.1:6379/0"},
		{"Authorization: Bearer abc.def.ghijkl", "Authorization: Bearer REDACTED"},
		{"Basic dXNlcjpwYXNz", "Basic REDACTED"},
		{"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", "REDACTED"},
		{"https://idp.example/jwks?access_token=abc&x=1", "https://idp.example/jwks?access_token=REDACTED&x=1"},
		{"the tier basic is offered", "the tier basic is offered"},
		{"token is invalid", "token is invalid"},
		{"tiers[0].burst: must be > 0, got -3", "tiers[0].burst: must be > 0, got -3"},
		{"a@b", "a@b"},
		{"host=db user=u password=pg-s3cret sslmode=disable", "host=db user=u password=REDACTED sslmode=disable"},
		{"password=x", "password=REDACTED"},
	} {
		if got := String(tc.in); got != tc.want {
			t.Errorf("String(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestURL(t *testing.T) {
	if got := URL("https://user:pw@idp.example/jwks?token=t0k"); strings.Contains(got, "pw") || strings.Contains(got, "t0k") ||
		strings.Contains(got, "user") || !strings.Contains(got, "idp.example/jwks") {
		t.Errorf("URL = %q", got)
	}
	if got := URL("://bad:pw@x"); strings.Contains(got, "pw") {
		t.Errorf("unparsable URL = %q", got)
	}
}

func TestValue(t *testing.T) {
	if got := Value("demo-key"); strings.Contains(got, "demo-key") || !strings.Contains(got, "8-character") {
		t.Errorf("Value = %q", got)
	}
}

func TestHandler(t *testing.T) {
	var buf bytes.Buffer
	h := NewHandler(slog.NewTextHandler(&buf, nil))
	h.SetSecrets("redis-password-1", "")
	log := slog.New(h).With("url", "https://u:p4ssw0rd@idp/jwks")
	log.Error("fetch https://v:other-pw@idp failed", "err", errors.New("auth redis-password-1 refused"),
		"list", []string{"Bearer aaaaaaaaaaaa"}, slog.Group("g", "u", "http://a:group-pw@h/"), "n", 3)
	out := buf.String()
	for _, s := range []string{"p4ssw0rd", "other-pw", "redis-password-1", "aaaaaaaaaaaa", "group-pw"} {
		if strings.Contains(out, s) {
			t.Errorf("log line holds %q: %s", s, out)
		}
	}
	if !strings.Contains(out, "n=3") || !strings.Contains(out, "REDACTED") {
		t.Errorf("log line %s", out)
	}
}

// FuzzString: redaction never panics, and a password in a URL's userinfo
// never survives it.
func FuzzString(f *testing.F) {
	f.Add("https://", "pw12", "host/x")
	f.Add("x ", "Bearer", " y")
	f.Fuzz(func(t *testing.T, pre, pw, post string) {
		_ = String(pre + pw + post)
		if len(pw) < 4 || strings.ContainsAny(pw, "/@\"'<> \t\r\n\f") {
			return
		}
		s := "prefix https://user:" + pw + "@host/path " + post
		if got := String(s); strings.Contains(got, "user:"+pw+"@") {
			t.Fatalf("String(%q) = %q", s, got)
		}
	})
}
