module github.com/fusebox-go/fusebox/cmd/fusebox

go 1.25

require (
	github.com/fusebox-go/fusebox v0.1.0
	go.uber.org/goleak v1.3.0
	gopkg.in/yaml.v3 v3.0.1
)

require github.com/kr/text v0.2.0 // indirect

replace github.com/fusebox-go/fusebox => ../..
