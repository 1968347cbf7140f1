package s3client

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// A server that thinks for longer than the idle timeout before it answers
// (as versitygw does while assembling a large multipart object) cuts off
// an ordinary request, but not one given patience.
func TestPatienceOutlastsIdleTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(700 * time.Millisecond)
		w.Write([]byte("done"))
	}))
	defer srv.Close()
	hc, err := httpClient(Options{IOTimeout: 200 * time.Millisecond, MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	get := func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := get(context.Background()); err == nil {
		t.Fatal("a silent server outlasted the idle timeout without patience")
	}
	if err := get(WithPatience(context.Background(), 2*time.Second)); err != nil {
		t.Fatalf("with patience: %v", err)
	}
}
