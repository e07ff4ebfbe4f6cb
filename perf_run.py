import asyncio, os, subprocess, sys, time
SRC = os.environ.get("HUB_SRC", "/work/wt/perf")
sys.path.insert(0, SRC)
from hub.embedded import EmbeddedBroker, free_port
from hub import settings as sm, topics, kafka
from hub.codec import codec, REPORT, AUDIT_EVENT
from hub.report import from_json
from hub.simulator import generator as g
N = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
async def main():
    b = EmbeddedBroker().start()
    s = sm.load({}, embedded_port=b.port, data_dir="/tmp/perfwt/data", partitions=4)
    await topics.ensure_topics(s)
    env = dict(os.environ, HUB_EMBEDDED_PORT=str(b.port), HUB_DATA_DIR="/tmp/perfwt/data", HUB_PARTITIONS="4", HUB_LOG_LEVEL="WARNING", PYTHONPATH=SRC)
    port = free_port()
    w = subprocess.Popen([sys.executable, "-m", "hub", "worker", "--port", str(port)], env=env, stdout=open("/tmp/perfwt/worker.log","w"), stderr=subprocess.STDOUT, cwd=SRC)
    print("WORKER_PID", w.pid, flush=True)
    import httpx
    for _ in range(120):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200: break
        except Exception: pass
        await asyncio.sleep(0.5)
    from hub.simulator import AGENCIES
    st = {a.code: a.state for a in AGENCIES}
    evs = g.generate(seed=1, count=N)
    enc = []
    for agency, body in evs:
        state = st[agency]
        try:
            r = from_json(body, agency=agency, state=state, settings=s)
        except Exception: continue
        enc.append((f"{agency}:{r['source_ref']}".encode(), codec().encode(REPORT, r)))
    p = kafka.producer(s); await p.start()
    if not os.environ.get("NOSPY"): subprocess.Popen(["/work/wt/perf/.venv/bin/py-spy","record","--format","raw","-o","/tmp/perfwt/prof.txt","--pid",str(w.pid),"-d","8","-r","50"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    await asyncio.sleep(1)
    cpu0 = sum(int(x) for x in open(f"/proc/{w.pid}/stat").read().rsplit(")",1)[1].split()[11:13]) / os.sysconf("SC_CLK_TCK")
    print("worker startup cpu s", cpu0)
    t0 = time.time()
    futs = [await p.send(topics.INTAKE, v, key=k) for k, v in enc]
    await asyncio.gather(*futs); print("produced", len(enc), time.time()-t0)
    c = kafka.consumer(s, topics.AUDIT, group_id="perf"); await c.start()
    routed = 0; last = time.time()
    while time.time() - last < 10:
        batch = await c.getmany(timeout_ms=500)
        for msgs in batch.values():
            for m in msgs:
                if codec().decode(m.value)["stage"] in ("ROUTED","DUPLICATE","REJECTED"):
                    routed += 1; last = time.time()
    cpu = sum(int(x) for x in open(f"/proc/{w.pid}/stat").read().rsplit(")",1)[1].split()[11:13]) / os.sysconf("SC_CLK_TCK")
    print("worker cpu s", cpu, "per report ms (excl. startup)", 1000*(cpu-cpu0)/max(routed,1))
    print("terminal audit events", routed, "in", last - t0, "=>", routed/(last-t0), "/s")
    await c.stop(); await p.stop(); w.terminate(); w.wait(); b.stop()
asyncio.run(main())
