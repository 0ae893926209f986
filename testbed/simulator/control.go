package simulator

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// ControlHandler lets tests and people change a running member's state:
//
//	GET  /state          -> "primary\n"
//	PUT  /state  body "backup"   (POST, or ?state=backup, work too)
//	GET  /stats          -> JSON counters (probes that reached the member)
//
// It must listen on loopback only: it changes state over the network.
func ControlHandler(m *Member) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/state", func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			io.WriteString(w, string(m.State())+"\n")
		case http.MethodPut, http.MethodPost:
			want := r.URL.Query().Get("state")
			if want == "" {
				b, _ := io.ReadAll(io.LimitReader(r.Body, 64))
				want = strings.TrimSpace(string(b))
			}
			st, err := ParseState(want)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			if err := m.SetState(st); err != nil {
				http.Error(w, err.Error(), http.StatusConflict)
				return
			}
			io.WriteString(w, string(st)+"\n")
		default:
			w.Header().Set("Allow", "GET, PUT, POST")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		}
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(struct {
			Member string `json:"member"`
			State  State  `json:"state"`
			Stats
		}{m.Name, m.State(), m.Stats()})
	})
	return mux
}
