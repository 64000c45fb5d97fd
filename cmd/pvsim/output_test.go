package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWriteFileWholeOrNothing: a write that fails halfway leaves no file,
// and no temporary one, and an earlier file as it was.
func TestWriteFileWholeOrNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "trace.json")
	require.NoError(t, writeFile(path, func(w io.Writer) error {
		_, err := io.WriteString(w, "[1]")
		return err
	}))
	failed := errors.New("the symbolizer failed")
	err := writeFile(path, func(w io.Writer) error {
		io.WriteString(w, "[2, ")
		return failed
	})
	assert.ErrorIs(t, err, failed)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "[1]", string(b), "the earlier file stays")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file is left")

	fresh := filepath.Join(dir, "new.json")
	assert.Error(t, writeFile(fresh, func(io.Writer) error { return failed }))
	assert.NoFileExists(t, fresh)
}
