module github.com/fusebox-go/fusebox/bench

go 1.25

require github.com/fusebox-go/fusebox v0.0.0

replace github.com/fusebox-go/fusebox => ../
