package haproxyclient

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// StatsCommand sends one command to haproxy's stats socket (a unix socket
// path) and returns the whole answer.
func StatsCommand(socket, cmd string, timeout time.Duration) (string, error) {
	c, err := net.DialTimeout("unix", socket, timeout)
	if err != nil {
		return "", fmt.Errorf("stats socket: %w", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(c, cmd+"\n"); err != nil {
		return "", fmt.Errorf("stats socket: %w", err)
	}
	b, err := io.ReadAll(c)
	if err != nil {
		return "", fmt.Errorf("stats socket: %w", err)
	}
	return string(b), nil
}

// ServerStats maps "backend/server" to that server's `show stat` fields
// (status, lastchg, last_agt, check_status...). Frontend and backend rows
// are left out.
type ServerStats map[string]map[string]string

// ParseShowStat reads the CSV answer of `show stat`.
func ParseShowStat(out string) (ServerStats, error) {
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(out, "# ")))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("show stat: %w", err)
	}
	if len(rows) < 2 {
		return nil, errors.New("show stat: no rows")
	}
	head := rows[0]
	stats := ServerStats{}
	for _, row := range rows[1:] {
		if len(row) < 2 || row[1] == "FRONTEND" || row[1] == "BACKEND" {
			continue
		}
		m := make(map[string]string, len(head))
		for i, k := range head {
			if i < len(row) {
				m[k] = row[i]
			}
		}
		stats[row[0]+"/"+row[1]] = m
	}
	return stats, nil
}

// ShowStat asks the stats socket for every server's fields.
func ShowStat(socket string, timeout time.Duration) (ServerStats, error) {
	out, err := StatsCommand(socket, "show stat", timeout)
	if err != nil {
		return nil, err
	}
	return ParseShowStat(out)
}
