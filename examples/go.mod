module github.com/fusebox-go/fusebox/examples

go 1.25.0

require (
	github.com/fusebox-go/fusebox v0.1.0
	github.com/fusebox-go/fusebox/fuseboxgrpc v0.1.0
	github.com/fusebox-go/fusebox/fuseboxprom v0.1.0
	github.com/prometheus/client_golang v1.24.1
	go.uber.org/goleak v1.3.0
	google.golang.org/grpc v1.84.0
	google.golang.org/protobuf v1.36.12
)

require (
	github.com/beorn7/perks v1.0.1 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/munnerz/goautoneg v0.0.0-20191010083416-a7dc8b61c822 // indirect
	github.com/prometheus/client_model v0.6.3 // indirect
	github.com/prometheus/common v0.71.0 // indirect
	github.com/prometheus/procfs v0.22.0 // indirect
	golang.org/x/net v0.58.0 // indirect
	golang.org/x/sys v0.47.0 // indirect
	golang.org/x/text v0.41.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20260706201446-f0a921348800 // indirect
)

replace (
	github.com/fusebox-go/fusebox => ../
	github.com/fusebox-go/fusebox/fuseboxgrpc => ../fuseboxgrpc
	github.com/fusebox-go/fusebox/fuseboxprom => ../fuseboxprom
)
