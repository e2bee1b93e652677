from benchmarks.anchor.runner import main

main()
