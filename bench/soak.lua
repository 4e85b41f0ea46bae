-- The soak's people, for wrk with as many threads as connections (bench/soak.py runs it): each
-- thread is one person on one keep-alive connection, with their own cookies and CSRF token, as
-- SOAK_PEOPLE lists them: "reader", "member <email>", "editor <username>" or "publisher
-- <username>" (an editor who also publishes an issue every SOAK_PUBLISH_EVERY seconds). At the
-- end, each request's kind, status and latency and what the site acknowledged are printed as
-- "SOAK ..." lines, for bench/soak.py to check against the database.
dofile("bench/wrk_report.lua")
local report = done

-- Latencies by kind need a finer clock than Lua's seconds: wrk runs LuaJIT, whose ffi has one.
local ffi = require("ffi")
ffi.cdef("typedef struct { long sec; long nsec; } soak_ts; int clock_gettime(int, soak_ts *);")
local ts = ffi.new("soak_ts")
local function now_ms()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.sec) * 1000 + tonumber(ts.nsec) / 1e6
end

local PASSWORD = "bench-password" -- manage.py seed_bench's accounts
local PAUSE_MS = { reader = 100, member = 1500, editor = 1000, publisher = 1000 }
local TOPICS = { "quantization", "pruning", "sparse attention", "distillation", "inference" }
local KINDS = { "paper", "blog", "tool", "repo" }
local QUEUE = "/admin/newsletter/submission/?my_vote=none" -- what waits for my vote

-- Main state: numbers the threads, and prints at the end what each of them saw.
local threads = {}
function setup(thread)
  threads[#threads + 1] = thread
  thread:set("number", #threads)
end

function done(summary, latency, requests)
  report(summary, latency, requests)
  for _, thread in ipairs(threads) do
    for _, line in ipairs(thread:get("out")) do
      io.write("SOAK ", line, "\n")
    end
  end
end

-- Thread state: the person's steps, sent one at a time; each is a kind (for the figures), a
-- method, a path, the status expected, a form to post and what to do with the answer.
out = {}
local steps, cookies, token, paths = {}, {}, "", {}
local role, login, logged_in, sent, pause, links, answers, next_issue

function init()
  local people = {}
  for person in os.getenv("SOAK_PEOPLE"):gmatch("[^;]+") do
    people[#people + 1] = person
  end
  role, login = people[number]:match("^(%S+)%s*(%S*)$")
  math.randomseed(number) -- readers do not all browse the same way
  for path in os.getenv("SOAK_READER_PATHS"):gmatch("%S+") do
    paths[#paths + 1] = path
  end
  links, pause, answers = 0, 0, 0
  next_issue = now_ms() + os.getenv("SOAK_PUBLISH_EVERY") * 1000
end

local function add(kind, method, path, expect, form, after, at)
  local step = { kind = kind, method = method, path = path, expect = expect, form = form }
  step.after = after
  table.insert(steps, at or #steps + 1, step)
end

local function escape(text)
  return (tostring(text):gsub("[^%w%-_.~]", function(c)
    return string.format("%%%02X", c:byte())
  end))
end

local function log_in(path, form)
  logged_in = true
  add("login", "GET", path, 200)
  add("login", "POST", path, 302, form)
end

-- What each person does next: log in once, then the same round again and again.
local plans = {}

function plans.reader()
  add("reader", "GET", paths[math.random(#paths)], 200)
end

function plans.member()
  if not logged_in then
    log_in("/accounts/login/", { login = login, password = PASSWORD })
  end
  links = links + 1
  local link = string.format("https://example.org/soak/%s/%d", login, links)
  local topic = TOPICS[math.random(#TOPICS)]
  add("member", "GET", "/submit/", 200)
  add("submit", "POST", "/submit/", 302, {
    url = link, kind = KINDS[links % #KINDS + 1], note_to_editors = "",
    title = string.format("%s, link %d: %s in practice", login, links, topic),
    summary = "Notes on **" .. topic .. "**, with numbers.",
    ["links-TOTAL_FORMS"] = 0, ["links-INITIAL_FORMS"] = 0, -- no extra links
    ["links-MIN_NUM_FORMS"] = 0, ["links-MAX_NUM_FORMS"] = 3,
  }, function(headers)
    local pk = (headers["location"] or ""):match("/my/submissions/(%d+)/$")
    if not pk then
      return "redirected to " .. tostring(headers["location"])
    end
    out[#out + 1] = "submitted " .. pk .. " " .. link
    add("member", "GET", "/my/submissions/" .. pk .. "/", 200, nil, nil, 1)
  end)
  add("member", "GET", "/my/submissions/", 200)
end

-- Votes for the (up to five) oldest submissions in the queue.
local function vote(_, body)
  local n = 0
  for pk in body:gmatch('id="review%-vote%-(%d+)"') do
    n = n + 1
    if n <= 5 then
      local path = "/admin/newsletter/submission/" .. pk .. "/vote/"
      add("vote", "POST", path, 302, { value = 1, next = QUEUE }, function()
        out[#out + 1] = "voted " .. pk
      end, n)
    end
  end
end

-- Creates an issue, fills it from the accepted submissions and publishes it, as an editor does;
-- each step adds the next once it knows what to send.
local function publish()
  local admin = "/admin/newsletter/issue/"
  add("publish", "GET", admin .. "add/", 200, nil, function(_, body)
    local number = body:match('name="number"[^>]*value="(%d+)"')
    if not number then
      return "the issue form suggests no number"
    end
    add("publish", "POST", admin .. "add/", 302, {
      number = number, title = "Soak issue " .. number, slug = "", closing = "Thanks for reading.",
      introduction = "What the **community** shared.", _continue = "Save and continue editing",
    }, function(headers)
      local pk = (headers["location"] or ""):match("/issue/(%d+)/")
      if not pk then
        return "redirected to " .. tostring(headers["location"])
      end
      add("publish", "POST", admin .. pk .. "/compose/", 302, { action = "fill" }, nil, 1)
      add("publish", "POST", admin .. pk .. "/publishing/", 302, { action = "publish" }, function()
        out[#out + 1] = "published " .. number
      end, 2)
    end, 1)
  end)
end

function plans.editor()
  if not logged_in then
    log_in("/admin/login/", { username = login, password = PASSWORD, next = "/admin/" })
  end
  add("editor", "GET", QUEUE, 200, nil, vote)
  if role == "publisher" and now_ms() >= next_issue then
    next_issue = now_ms() + os.getenv("SOAK_PUBLISH_EVERY") * 1000
    publish()
  end
end
plans.publisher = plans.editor

function request()
  -- No answer came: wrk reconnected and asks again. Like a browser, do not send it twice: it
  -- failed (wrk counts the broken connection too). Before the run, wrk calls request() once to
  -- check what it returns and sends nothing: that is no lost answer.
  if sent and answers > 0 then
    out[#out + 1] = "failure " .. steps[1].method .. " " .. steps[1].path .. ": no answer"
    steps = {}
  end
  if #steps == 0 then
    plans[role]()
  end
  local step, jar, body = steps[1], {}, nil
  -- As a TLS proxy forwards it: the site sees HTTPS and checks the Origin of every POST.
  local headers = { ["X-Forwarded-Proto"] = "https", Origin = "https://" .. wrk.headers["Host"] }
  for name, content in pairs(cookies) do
    jar[#jar + 1] = name .. "=" .. content
  end
  headers["Cookie"] = #jar > 0 and table.concat(jar, "; ") or nil
  cookies.messages = nil -- a one-time message ("Thanks for your link"): this page shows it
  if step.method == "POST" then
    local form = { "csrfmiddlewaretoken=" .. escape(token) }
    for key, field in pairs(step.form) do
      form[#form + 1] = key .. "=" .. escape(field)
    end
    body, headers["Content-Type"] = table.concat(form, "&"), "application/x-www-form-urlencoded"
  end
  sent, step.started = true, now_ms()
  return wrk.format(step.method, step.path, headers, body)
end

function response(status, raw_headers, body)
  local step, headers, problem = table.remove(steps, 1), {}, nil
  sent, answers = false, answers + 1
  out[#out + 1] = string.format("r %s %d %.2f", step.kind, status, now_ms() - step.started)
  for name, content in pairs(raw_headers) do
    headers[name:lower()] = content
  end
  -- wrk shows a script only the last of repeated headers. Django sets the session cookie last
  -- (SessionMiddleware is the outermost that sets one), and the CSRF cookie this misses when
  -- both change at log-in is not needed: the one kept still matches the tokens of the forms.
  local cookie = headers["set-cookie"] or ""
  local name, content = cookie:match("^([^=]+)=([^;]*)")
  if name then
    local gone = content == "" or content == '""' or cookie:find("Max%-Age=0")
    cookies[name] = not gone and content or nil
  end
  token = body:match('name="csrfmiddlewaretoken" value="([^"]+)"') or token
  if status ~= step.expect then
    problem = string.format("%d, expected %d", status, step.expect)
  elseif step.after then
    problem = step.after(headers, body)
  end
  if problem then
    out[#out + 1] = string.format("failure %s %s: %s", step.method, step.path, problem)
    steps = {} -- the rest of the round depended on this step
  end
  pause = #steps == 0 and PAUSE_MS[role] * (0.5 + math.random()) or 0
end

function delay()
  return pause
end
