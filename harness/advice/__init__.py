"""harness's advice: each piece a module that rewrites a Dockerfile on its syntax trees
(parse: BuildKit's nodes; shell: the RUN's shell tree), says what it may change in the image,
and the image guard that checks it changed nothing else."""
