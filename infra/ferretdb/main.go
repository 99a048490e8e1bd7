// Command gavel-ferretdb runs FerretDB v1 embedded, with the PostgreSQL backend and telemetry off.
//
// The upstream ferretdb command panics at start when built with `go install`, because its version
// file is not part of the module download; embedding the library package avoids that.
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen-addr", "127.0.0.1:27017", "address to serve the MongoDB wire protocol on")
	postgresURL := flag.String("postgresql-url", "postgres://127.0.0.1:5432/ferretdb", "PostgreSQL database that stores the documents")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	db, err := ferretdb.New(&ferretdb.Config{
		Listener:      ferretdb.ListenerConfig{TCP: *listen},
		Handler:       "postgresql",
		PostgreSQLURL: *postgresURL,
	})
	if err != nil {
		log.Fatalf("ferretdb: %v", err)
	}

	log.Printf("ferretdb listening on %s, backend %s", *listen, *postgresURL)
	if err := db.Run(ctx); err != nil {
		log.Fatalf("ferretdb: %v", err)
	}
}
