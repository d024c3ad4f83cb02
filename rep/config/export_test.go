package config

// FirstIPv4 lets tests pick the advertised address from given interfaces.
var FirstIPv4 = firstIPv4
