// Command database runs SQL queries through a Fusebox pipeline (a
// deadline for the query and its rows, and a circuit breaker) and reads
// their rows after the pipeline's call has returned. That needs
// fusebox.Hold: the timeout policy ends the context it gave the call when
// the call returns, and database/sql stops a query's rows when its
// context ends. Hold, taken inside the call, keeps that context alive
// until the rows are closed; the deadline still applies.
//
// The database is a small database/sql driver in this file that streams
// rows slowly, as a remote database sending a large result would. The
// run ends by itself in under a second:
//
//	go run ./examples/database
package main

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/timeout"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "database:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	db := sql.OpenDB(slowDB{rowDelay: 20 * time.Millisecond})
	defer db.Close()

	// The pipeline, outermost first: 500 ms for the query and the
	// reading of its rows, then a breaker for the database.
	deadline, err := timeout.New(timeout.Config{Name: "orders query", Timeout: 500 * time.Millisecond})
	if err != nil {
		return err
	}
	database, err := breaker.New(breaker.Config{Name: "orders-db"})
	if err != nil {
		return err
	}
	pipeline, err := fusebox.New(deadline, database)
	if err != nil {
		return err
	}

	fmt.Fprintln(out, "-- without Hold: the rows die with the call's context")
	rows, err := fusebox.Do(ctx, pipeline, func(ctx context.Context) (*sql.Rows, error) {
		return db.QueryContext(ctx, "SELECT id, total_cents FROM orders LIMIT ?", 5)
	})
	if err != nil {
		return err
	}
	n, _, err := sum(rows)
	if closeErr := rows.Close(); closeErr != nil {
		return closeErr
	}
	fmt.Fprintf(out, "read %d of 5 rows, then: %v\n", n, err)

	fmt.Fprintln(out, "-- with Hold: the rows stay readable until Close")
	held, err := queryOrders(ctx, pipeline, db, 5)
	if err != nil {
		return err
	}
	n, total, err := sum(held.Rows)
	if closeErr := held.Close(); closeErr != nil {
		return closeErr
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "read %d of 5 rows, total %d cents\n", n, total)

	fmt.Fprintln(out, "-- with Hold, rows slower than the deadline: the deadline still ends them")
	held, err = queryOrders(ctx, pipeline, db, 50) // 50 rows at 20 ms: 1 s, past the 500 ms deadline
	if err != nil {
		return err
	}
	n, _, err = sum(held.Rows)
	if closeErr := held.Close(); closeErr != nil {
		return closeErr
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("reading past the deadline: got %v, want context.DeadlineExceeded", err)
	}
	fmt.Fprintf(out, "read %d of 50 rows, then: %v\n", n, err)

	// The breaker judged each query when the pipeline's call returned:
	// they all succeeded. What goes wrong while reading the rows is the
	// caller's to handle (here, the deadline it asked for).
	s := database.Snapshot()
	fmt.Fprintf(out, "breaker %s: %d queries, %d failures\n", database.State(), s.TotalCalls, s.TotalFailures)
	return nil
}

// HeldRows are query rows that keep the pipeline's contexts alive until
// Close.
type HeldRows struct {
	*sql.Rows
	release func()
}

// Close closes the rows, then lets the pipeline's contexts end.
func (r *HeldRows) Close() error {
	err := r.Rows.Close()
	if r.release != nil {
		r.release()
	}
	return err
}

// queryOrders runs the query through the pipeline and returns rows that
// can be read after the pipeline's call has returned. Hold is taken
// inside the call, once the query has succeeded: an attempt that failed
// holds nothing.
func queryOrders(ctx context.Context, p *fusebox.Pipeline, db *sql.DB, limit int) (*HeldRows, error) {
	return fusebox.Do(ctx, p, func(ctx context.Context) (*HeldRows, error) {
		rows, err := db.QueryContext(ctx, "SELECT id, total_cents FROM orders LIMIT ?", limit)
		if err != nil {
			return nil, err
		}
		return &HeldRows{Rows: rows, release: fusebox.Hold(ctx)}, nil
	})
}

// sum reads every row and adds up the totals; err is why the reading
// stopped early.
func sum(rows *sql.Rows) (n int, total int64, err error) {
	for rows.Next() {
		var id, cents int64
		if err := rows.Scan(&id, &cents); err != nil {
			return n, total, err
		}
		n++
		total += cents
	}
	return n, total, rows.Err()
}

// slowDB is a database/sql driver (a driver.Connector) whose every query
// answers LIMIT rows of (id, total_cents), one each rowDelay, and stops
// when the query's context ends.
type slowDB struct {
	rowDelay time.Duration
}

func (d slowDB) Connect(context.Context) (driver.Conn, error) { return slowConn(d), nil }
func (d slowDB) Driver() driver.Driver                        { return d }

// Open is for sql.Open; the example uses sql.OpenDB.
func (d slowDB) Open(string) (driver.Conn, error) { return slowConn(d), nil }

type slowConn slowDB

func (c slowConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("slowdb: want one argument, the LIMIT, got %d", len(args))
	}
	limit, ok := args[0].Value.(int64)
	if !ok {
		return nil, fmt.Errorf("slowdb: LIMIT %v: want an integer", args[0].Value)
	}
	return &slowRows{ctx: ctx, delay: c.rowDelay, limit: limit}, nil
}

func (c slowConn) Prepare(string) (driver.Stmt, error) {
	return nil, errors.New("slowdb: prepared statements not supported")
}
func (c slowConn) Close() error { return nil }
func (c slowConn) Begin() (driver.Tx, error) {
	return nil, errors.New("slowdb: transactions not supported")
}

type slowRows struct {
	ctx   context.Context
	delay time.Duration
	limit int64
	next  int64
}

func (r *slowRows) Columns() []string { return []string{"id", "total_cents"} }
func (r *slowRows) Close() error      { return nil }

func (r *slowRows) Next(dest []driver.Value) error {
	if r.next == r.limit {
		return io.EOF
	}
	t := time.NewTimer(r.delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.ctx.Done(): // the query's context ended: so does the result
		return r.ctx.Err()
	}
	r.next++
	dest[0] = r.next
	dest[1] = 1000 + r.next
	return nil
}
