"""tools/lib/gilsim_pyrun - the logic of tools/pyrun: a gilsim workload on real interpreter threads.

Python 3 standard library only; runs on any CPython 3.7+ (the one that imports it is the one
measured). tools/pyrun is the command; tests/test_pyrun.py tests the pieces (the gap inference
on synthetic progress logs, the random draws, the workload checks). docs/pyrun.md says what is
measured and how exactly; these modules are the reference for the details.

Modules:
  base       what the others share: InputError, llround, the event codes of a thread's log
  workload   load_workload(): read and check a gilsim-workload file (exit 2 on errors)
  draws      Rng: gilsim's xoshiro256** per thread, so the same seed gives the same latencies
  ticks      the tick loop sized to the workload's tick_ns on this interpreter, the native
             call (hashlib), the hold call (deque over repeat): run.calibration
  peer       the I/O peer process that answers each io op after its latency
  run        Runner: one threading.Thread per workload thread, one peer process per I/O
             thread; ThreadRun: one thread's ops, progress stamps and exact events
  infer      infer_lost_gil(): lost-GIL intervals from gaps in the progress stamps
  trace      build_events(), write_trace(): gilsim-trace version 1
  command    main(): the command line of tools/pyrun
"""
