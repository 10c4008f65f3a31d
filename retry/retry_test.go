package retry

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	tests := []struct {
		attempt int
		rnd     float64
		want    time.Duration
	}{
		{0, 1, time.Second},
		{1, 1, time.Second},
		{1, 0, 500 * time.Millisecond},
		{2, 1, 16 * time.Second},
		{3, 1, 81 * time.Second},
		{3, 0.5, 81 * time.Second * 3 / 4},
		{4, 1, 256 * time.Second},
		{5, 1, 5 * time.Minute},
		{5, 0, 150 * time.Second},
		{1 << 40, 1, 5 * time.Minute},
	}
	for _, tt := range tests {
		if got := Backoff(tt.attempt, time.Second, 5*time.Minute, tt.rnd); got != tt.want {
			t.Errorf("Backoff(%d, rnd %.1f) = %v, want %v", tt.attempt, tt.rnd, got, tt.want)
		}
	}
}

func TestSleep(t *testing.T) {
	if err := Sleep(context.Background(), System{}, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	cause := errors.New("stop")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(cause)
	if err := Sleep(ctx, System{}, time.Hour); !errors.Is(err, cause) {
		t.Fatalf("Sleep after cancel = %v, want %v", err, cause)
	}
}
