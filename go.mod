module pvsim

go 1.26.8

require (
	github.com/bobuhiro11/gokvm v0.0.8-0.20231003020000-f53faca69d28
	github.com/stretchr/testify v1.12.1
	golang.org/x/arch v0.32.0
)

require go.yaml.in/yaml/v3 v3.0.5 // indirect
