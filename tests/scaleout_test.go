package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// buildPvsim builds pvsim into a directory of its own, for commands run
// by a shell.
func buildPvsim(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "pvsim"), "../cmd/pvsim")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return dir
}

// runShard runs one shard's shell command as its scheduler would, in dir,
// with env added and the built pvsim on the PATH.
func runShard(t *testing.T, bin, dir, script string, env ...string) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s: %s", script, out)
}

// mergeShards runs pvsim explore merge over the shards' results and
// checks the search is whole: every shard there, exhausted.
func mergeShards(t *testing.T, bin string, files []string, shards int) {
	t.Helper()
	out, err := exec.Command(filepath.Join(bin, "pvsim"), append([]string{"explore", "merge", "--json"}, files...)...).Output()
	require.NoError(t, err, "explore merge: %s", out)
	var m struct {
		Exhausted  bool
		Shards     []int
		ShardCount int `json:"shard_count"`
		Schedules  int
		Violations []json.RawMessage
	}
	require.NoError(t, json.Unmarshal(out, &m), "%s", out)
	assert.True(t, m.Exhausted, "the merged search is exhausted: %s", out)
	assert.Len(t, m.Shards, shards)
	assert.Empty(t, m.Violations)
	assert.NotZero(t, m.Schedules)
}

// TestScaleOutManifests runs the exact shard commands of the Kubernetes
// Indexed Job and of the CI matrix in deploy/ (docs/scale-out.md), one
// after the other on this machine, and joins their results as the last
// step would.
func TestScaleOutManifests(t *testing.T) {
	needKVM(t)
	if testing.Short() {
		t.Skip("SKIP: -short: every shard of a bound-2 search, twice")
	}
	bin := buildPvsim(t)

	t.Run("kubernetes indexed job", func(t *testing.T) {
		b, err := os.ReadFile("../deploy/explore-indexed-job.yaml")
		require.NoError(t, err)
		var job struct {
			Kind string
			Spec struct {
				CompletionMode string `yaml:"completionMode"`
				Completions    int
				Template       struct {
					Spec struct {
						Containers []struct {
							Command, Args []string
							Env           []struct{ Name, Value string }
						}
					}
				}
			}
		}
		require.NoError(t, yaml.Unmarshal(b, &job))
		require.Equal(t, "Job", job.Kind)
		require.Equal(t, "Indexed", job.Spec.CompletionMode)
		c := job.Spec.Template.Spec.Containers
		require.Len(t, c, 1)
		require.Equal(t, []string{"/bin/sh", "-c"}, c[0].Command)
		require.Len(t, c[0].Args, 1)
		dir := t.TempDir()
		var env []string
		for _, e := range c[0].Env {
			if e.Name != "RESULTS_DIR" {
				env = append(env, e.Name+"="+e.Value)
			}
		}
		var files []string
		for i := range job.Spec.Completions {
			// The pod's volume at RESULTS_DIR is this test's directory.
			runShard(t, bin, dir, c[0].Args[0], append(env, "RESULTS_DIR="+dir, fmt.Sprintf("JOB_COMPLETION_INDEX=%d", i))...)
			files = append(files, filepath.Join(dir, fmt.Sprintf("shard-%d.json", i)))
		}
		mergeShards(t, bin, files, job.Spec.Completions)
	})

	t.Run("ci matrix", func(t *testing.T) {
		b, err := os.ReadFile("../deploy/explore-matrix.yml")
		require.NoError(t, err)
		var wf struct {
			Jobs struct {
				Shard struct {
					Strategy struct{ Matrix struct{ Shard []int } }
					Steps    []struct{ Run string }
				}
				Merge struct{ Steps []struct{ Run string } }
			}
		}
		require.NoError(t, yaml.Unmarshal(b, &wf))
		var build, explore string
		for _, s := range wf.Jobs.Shard.Steps {
			switch {
			case strings.HasPrefix(s.Run, "go build"):
				build = s.Run
			case strings.Contains(s.Run, "pvsim explore"):
				explore = s.Run
			}
		}
		require.NotEmpty(t, explore, "the shard job's explore step")
		assert.Equal(t, "go build -o pvsim ./cmd/pvsim", build, "the shard job builds ./pvsim")
		dir := t.TempDir()
		require.NoError(t, os.Symlink(filepath.Join(bin, "pvsim"), filepath.Join(dir, "pvsim")))
		shards := wf.Jobs.Shard.Strategy.Matrix.Shard
		require.NotEmpty(t, shards)
		var files []string
		for _, i := range shards {
			runShard(t, bin, dir, strings.ReplaceAll(explore, "${{ matrix.shard }}", fmt.Sprint(i)))
			files = append(files, filepath.Join(dir, fmt.Sprintf("shard-%d.json", i)))
		}
		var merge string
		for _, s := range wf.Jobs.Merge.Steps {
			if strings.Contains(s.Run, "explore merge") {
				merge = s.Run
			}
		}
		assert.Equal(t, "go run ./cmd/pvsim explore merge shard-*.json", merge)
		mergeShards(t, bin, files, len(shards))
	})
}
