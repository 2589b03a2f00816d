"""Measuring the paths: evaluation, scoring, bench, load tests, the browser driver, results docs."""
