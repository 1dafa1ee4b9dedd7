#!/usr/bin/ruby
# Ruby threads as their users write them: an echo client beside a CPU-bound thread, or two
# CPU-bound threads. Prints JSON.
#
#   ruby_threads.rb echo [--cpu-threads N] [--delay-us US] [--duration S]
#       one byte written to a peer process over a UNIX socket pair, read back, over and over;
#       the peer (this file, `peer`) answers at once or after a pause: round trips per second
#       and the round trip's p50/p99
#   ruby_threads.rb cpu2 [--duration S]
#       two threads counting; each notes the time every 1,000 counts, and a pause in a
#       thread's notes is a time it did not run: slice lengths p50 and each thread's share
require "json"
require "socket"

def now
  Process.clock_gettime(Process::CLOCK_MONOTONIC)
end

def pct(sorted, q)
  return nil if sorted.empty?
  k = (q * sorted.size + 0.5).round - 1
  sorted[[[k, 0].max, sorted.size - 1].min]
end

def opt(args, name, default)
  i = args.index(name)
  i ? args[i + 1].to_f : default
end

def peer(fd, delay_us)
  sock = Socket.for_fd(fd)
  delay = delay_us / 1e6
  loop do
    data = sock.readpartial(64) rescue break
    sleep(delay) if delay > 0
    sock.write(data)
  end
end

def counter(running, stamps)
  Thread.new do
    n = 0
    while running[0]
      n += 1
      stamps << now if n % 1000 == 0
    end
    n
  end
end

def echo(args)
  cpu = opt(args, "--cpu-threads", 1).to_i
  delay = opt(args, "--delay-us", 40)
  duration = opt(args, "--duration", 3)
  mine, theirs = UNIXSocket.pair
  pid = spawn(RbConfig.ruby, __FILE__, "peer", theirs.fileno.to_s, delay.to_s,
              theirs.fileno => theirs.fileno)
  theirs.close
  running = [true]
  threads = (0...cpu).map { counter(running, []) }
  warm = now + 0.2
  while now < warm
    mine.write("x")
    mine.read(1)
  end
  rtts = []
  start = now
  stop = start + duration
  loop do
    t0 = now
    mine.write("x")
    mine.read(1)
    t1 = now
    rtts << t1 - t0
    break if t1 >= stop
  end
  elapsed = now - start
  running[0] = false
  threads.each(&:join)
  mine.close
  Process.wait(pid)
  rtts.sort!
  {program: "ruby_echo", ruby: RUBY_VERSION, cpu_threads: cpu, delay_us: delay,
   round_trips: rtts.size, round_trips_per_s: rtts.size / elapsed,
   rtt_p50_us: pct(rtts, 0.5) * 1e6, rtt_p99_us: pct(rtts, 0.99) * 1e6}
end

# Slices from the two threads' notes: merged in time order, a run of notes from one thread
# is a stretch in which the other did not run (a pause in both, the OS running something
# else, is no switch). A slice runs from the first note of its run to the first note of the
# next thread's run.
def slices(notes)
  merged = notes.each_with_index.flat_map { |s, i| s.map { |t| [t, i] } }.sort
  starts = merged.each_cons(2).select { |a, b| a[1] != b[1] }.map { |_, b| b[0] }
  starts.each_cons(2).map { |a, b| b - a }
end

def cpu2(args)
  duration = opt(args, "--duration", 3)
  running = [true]
  notes = [[], []]
  threads = notes.map { |s| counter(running, s) }
  sleep(duration)
  running[0] = false
  counts = threads.map(&:value)
  all = slices(notes).sort
  {program: "ruby_cpu2", ruby: RUBY_VERSION, duration_s: duration,
   slices: all.size, slice_p50_us: pct(all, 0.5)&.*(1e6),
   share: counts.map { |c| c.to_f / counts.sum }}
end

case ARGV[0]
when "peer" then peer(ARGV[1].to_i, ARGV[2].to_f)
when "echo" then puts JSON.generate(echo(ARGV))
when "cpu2" then puts JSON.generate(cpu2(ARGV))
else
  warn "usage: ruby_threads.rb echo|cpu2 [options]"
  exit 2
end
