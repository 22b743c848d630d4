package main

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// jarURL is the newest stable TLA+ tools release. The "v1.8.0" release tag is
// not used: TLC's CI moves it to every master build, so its content changes.
const jarURL = "https://github.com/tlaplus/tlaplus/releases/download/v1.7.4/tla2tools.jar"

// jarSHA256 pins the download when set. It is empty on purpose: the jar this
// manifest was measured with is a 1.8.0 pre-release build, not v1.7.4, so no
// digest of the v1.7.4 file could be computed from a trusted copy. The
// download is instead checked to be a jar that contains tlc2/TLC.class.
const jarSHA256 = ""

const (
	connectTimeout  = 5 * time.Second
	downloadTimeout = 90 * time.Second // whole download, including the body
)

// unavailableError means TLC cannot run here; main exits with exitNoTLC.
type unavailableError struct{ reason string }

func (e *unavailableError) Error() string {
	return "TLC not available: set TLA2TOOLS_JAR to the path of tla2tools.jar (" + e.reason + ")"
}

func unavailable(format string, args ...any) error {
	reason := fmt.Sprintf(format, args...)
	return &unavailableError{reason: strings.Join(strings.Fields(reason), " ")} // one line
}

// findJava returns the java executable.
func findJava() (string, error) {
	java, err := exec.LookPath("java")
	if err != nil {
		return "", unavailable("java 11 or newer is needed and no java is on PATH")
	}
	return java, nil
}

// findJar returns tla2tools.jar: $TLA2TOOLS_JAR, else the cached copy, else a
// fresh download into the cache. Only a missing jar with TLA2TOOLS_JAR unset
// is an unavailableError (a skip in `make test`).
func findJar(ctx context.Context) (string, error) {
	if p := os.Getenv("TLA2TOOLS_JAR"); p != "" {
		// An explicit path that is wrong is a mistake to fix, not a reason to skip.
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("TLC not available: TLA2TOOLS_JAR is set but unusable: %v", err)
		}
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", unavailable("no home directory for the jar cache: %v", err)
	}
	cached := filepath.Join(home, ".cache", "tla", "tla2tools.jar")
	if _, err := os.Stat(cached); err == nil {
		return cached, nil
	}
	fmt.Fprintf(os.Stderr, "tlcrun: downloading %s into %s\n", jarURL, cached)
	if err := download(ctx, jarURL, cached); err != nil {
		return "", unavailable("no cached jar at %s and download of %s failed: %v", cached, jarURL, err)
	}
	return cached, nil
}

// download fetches url to dst atomically, with a short connect timeout and a
// bound on the whole transfer so an offline machine fails fast.
func download(ctx context.Context, url, dst string) error {
	ctx, cancel := context.WithTimeout(ctx, downloadTimeout)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: connectTimeout}).DialContext,
		TLSHandshakeTimeout:   connectTimeout,
		ResponseHeaderTimeout: 15 * time.Second,
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %s", resp.Status)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "tla2tools-*.jar")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	hash := sha256.New()
	if _, err := io.Copy(io.MultiWriter(tmp, hash), resp.Body); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if got := hex.EncodeToString(hash.Sum(nil)); jarSHA256 != "" && got != jarSHA256 {
		return fmt.Errorf("SHA-256 %s, want %s", got, jarSHA256)
	}
	if err := checkJar(tmp.Name()); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}

// checkJar rejects anything that is not a jar holding TLC (an HTML error page,
// a truncated file).
func checkJar(path string) error {
	z, err := zip.OpenReader(path)
	if err != nil {
		return fmt.Errorf("downloaded file is not a jar: %v", err)
	}
	defer z.Close()
	for _, f := range z.File {
		if f.Name == "tlc2/TLC.class" {
			return nil
		}
	}
	return errors.New("downloaded jar has no tlc2/TLC.class")
}

// tlcRun is one finished TLC process.
type tlcRun struct {
	Output   string
	ExitCode int
	Seconds  float64 // wall time, JVM start-up included
}

// fpIndex fixes TLC's fingerprint polynomial (otherwise random per run), so
// that a rerun explores in the same order and prints the same counterexample.
const fpIndex = "1"

// runTLC model-checks one cfg in dir. Everything TLC writes (states,
// extracted standard modules) goes to a temporary directory that is removed.
func runTLC(ctx context.Context, java, jar, dir string, m Model, workers int) (*tlcRun, error) {
	scratch, err := os.MkdirTemp("", "tlcrun-"+m.Name+"-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(scratch)
	args := []string{
		"-XX:+UseParallelGC",
		"-Djava.io.tmpdir=" + scratch,
		"-cp", jar, "tlc2.TLC",
		"-workers", strconv.Itoa(workers),
		"-deadlock",         // terminal states are expected: do not report them
		"-noGenerateSpecTE", // no <Spec>_TTrace_*.tla files beside the spec
		"-fp", fpIndex,
		"-metadir", filepath.Join(scratch, "states"),
		"-config", m.Cfg,
		m.Spec,
	}
	cmd := exec.CommandContext(ctx, java, args...)
	cmd.Dir = dir
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err = cmd.Run()
	run := &tlcRun{Output: out.String(), Seconds: time.Since(start).Seconds()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		run.ExitCode = exit.ExitCode() // TLC exits non-zero on violations
	case err != nil:
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("TLC stopped: %w", ctx.Err())
	}
	return run, nil
}

// commandLine shows how to reproduce a run by hand.
func commandLine(dir, jar string, m Model, workers int) string {
	return fmt.Sprintf("cd %s && java -XX:+UseParallelGC -cp %s tlc2.TLC -workers %d -deadlock -noGenerateSpecTE -fp %s -config %s %s",
		dir, jar, workers, fpIndex, m.Cfg, m.Spec)
}
