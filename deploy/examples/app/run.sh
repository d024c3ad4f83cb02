#!/bin/bash
# The example app for `cf push`: the shell buildpack runs run.sh; busybox serves this directory.
exec busybox httpd -f -p "$PORT" -h .
