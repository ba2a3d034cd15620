package testenv

import (
	"bytes"
	"sync"
)

// SyncBuffer is a bytes.Buffer that a running process writes while a test
// polls it (cmd.Stdout = &buf; buf.String() in a wait loop).
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
