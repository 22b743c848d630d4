package main

import (
	"archive/zip"
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

func fakeJar(t *testing.T, entry string) []byte {
	t.Helper()
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	if _, err := z.Create(entry); err != nil {
		t.Fatal(err)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// download keeps a jar that holds TLC and refuses error pages, other jars and
// HTTP errors without leaving a file behind.
func TestDownload(t *testing.T) {
	bodies := map[string][]byte{
		"/good.jar":  fakeJar(t, "tlc2/TLC.class"),
		"/other.jar": fakeJar(t, "other/Main.class"),
		"/page":      []byte("<html>rate limited</html>"),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := bodies[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	defer srv.Close()

	for _, tc := range []struct {
		path string
		ok   bool
	}{{"/good.jar", true}, {"/other.jar", false}, {"/page", false}, {"/missing", false}} {
		dst := filepath.Join(t.TempDir(), "cache", "tla2tools.jar")
		err := download(context.Background(), srv.URL+tc.path, dst)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v, want ok=%v", tc.path, err, tc.ok)
		}
		_, statErr := os.Stat(dst)
		if (statErr == nil) != tc.ok {
			t.Errorf("%s: jar present = %v, want %v", tc.path, statErr == nil, tc.ok)
		}
		if left, _ := filepath.Glob(filepath.Join(filepath.Dir(dst), "tla2tools-*.jar")); len(left) > 0 {
			t.Errorf("%s: temporary files left: %v", tc.path, left)
		}
	}
}
