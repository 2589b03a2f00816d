"""The kinds of document the reader learns to read, as templates: a leave policy, an expenses policy, remote work,
security, IT, a product sheet, release notes, meeting minutes, a company overview, a price list, an FAQ, a learning
policy and a change notice (the old and the new value of a fact, and the date it changes), plus sections any kind
may gain (a conditional table, a sentence with two cases). Each kind writes facts with several question wordings,
apart from the sentence's own words ("Hotel stays are capped at £140 a night" / "What is the most a hotel may
cost per night?"). None of these facts is Quillmoor's: the reader must learn to read, not to remember.
"""

from __future__ import annotations

import random

from fourpaths.training.reader_docs import (
    BROWSERS,
    FEATURES,
    FLOORS,
    LANGUAGES,
    MEANINGS,
    PRODUCT_TYPES,
    ROLES,
    STREETS,
    TEAMS,
    VENUES,
    WEEKDAYS,
    Block,
    Fact,
    FactMaker,
    GeneratedDoc,
    Section,
    filler,
    render_document,
)
from fourpaths.training.world import MONTHS, Company

# ---------------------------------------------------------------------------------------------------------------
# Document kinds. Each returns (title, sections); a section's blocks hold fact groups and filler.


def _meta(world: Company, make: FactMaker, title: str) -> tuple[str, list[Fact]]:
    """The owner line real documents open with, which some questions ask about."""
    owner, role, reviewed = world.person(), world.pick(ROLES), world.date(2025, 2026)
    owner_facts = make.say("Owner: {v}, {role}", ["Who owns the {title}?", "Who is responsible for the {title}?",
                                                  "Which person maintains the {title} at {co}?"],
                           v=owner, role=role, title=_doc_name(title))
    reviewed_facts = make.say("Last reviewed: {v}", ["When was the {title} last reviewed?",
                                                    "What is the date of the latest review of the {title}?"],
                              v=reviewed, title=_doc_name(title))
    version = world.version()
    return owner_facts, reviewed_facts, f"Version {version}"


def _doc_name(title: str) -> str:
    return title.replace(":", "")


def doc_leave(world: Company, make: FactMaker):
    w = world
    days = w.n(20, 30)
    carry = w.n(3, 10)
    extra = w.n(2, 8)
    years = w.n(3, 8)
    s = []
    s.append(Section("Purpose and scope", [Block("p", [
        f"This policy explains how much paid holiday {w.co_full} employees receive, how to book it, and what happens to unused days.",
        filler(w), filler(w)])]))
    year_start = w.pick(MONTHS)
    year_end = MONTHS[(MONTHS.index(year_start) - 1) % 12]
    month_days = {"February": 28, "April": 30, "June": 30, "September": 30, "November": 30}
    leave_year = f"1 {year_start} to {month_days.get(year_end, 31)} {year_end}"
    entitlement = make.say(["Every full-time employee receives {v}.", "Full-time staff are entitled to {v}.",
                            "Full-time entitlement: {v}."],
                           ["How much annual leave does a full-time {co} employee get?",
                            "What is the yearly holiday allowance for full-time staff at {co}?",
                            "How many days of paid holiday does a full-timer have each year?",
                            "What holiday entitlement do full-time workers at {co} receive?"],
                           v=f"{days} days a year plus public holidays" if w.rng.random() < 0.6 else f"{days} days a year")
    year = make.say(["The leave year runs from {v}.", "Leave year: {v}.", "Entitlements are calculated on a leave year running from {v}."],
                    ["What period does the {co} holiday year cover?", "When does the leave year start and end?",
                     "Over which dates is annual leave calculated at {co}?"], v=leave_year)
    service = make.say(["Long-service award: {v} after {y} years of continuous service.",
                        "After {y} years of continuous service you receive {v}."],
                       ["How much additional leave does someone get after {y} years of service?",
                        "What long-service holiday award applies at {y} years?",
                        "How many more days off does a {co} employee with {y} years' service get?"],
                       v=f"{w.pick(['1 extra day', '2 extra days', '3 extra days'])}", y=years)
    accrual = make.say(["Joiners and leavers in the middle of a year accrue {v} for each complete month worked.",
                        "Mid-year starters build up {v} per full month of employment."],
                       ["How many days of leave do new joiners earn per month worked?",
                        "At what rate do people who join part-way through the year accrue holiday?"],
                       v=f"{w.pick(['1.5', '1.75', '2', '2.25', '2.5'])} days")
    s.append(Section("How much leave you get", [Block(w.pick(["p", "ul"]), [entitlement, year, service, accrual])]))
    notice_short = make.say(["A single day or half day: {v}.", "For a single day off you need to give {v}."],
                            ["How much notice is needed to book one day of holiday?",
                             "How far ahead must a one-day leave request be made?"],
                            v=f"at least {w.n(24, 72)} hours' notice")
    long_days = w.n(5, 10)
    notice_long = make.say(["{k} days or more: {v}.", "Leave of {k} days or more needs {v}."],
                           ["How far in advance must I request a holiday of {k} days?",
                            "What notice is required for a {k}-day break?",
                            "If I want {k} days off in a row, how early must I ask?"],
                           v=f"at least {w.n(2, 6)} weeks' notice", k=long_days)
    response = make.say(["Your line manager approves or declines the request {v}.",
                         "Managers must respond to a leave request {v}."],
                        ["How quickly must a manager answer a holiday request?",
                         "What is the deadline for a line manager to decide on a leave request?"],
                        v=f"within {w.n(2, 10)} working days")
    booking = make.say(["Book all holiday in {v}, the HR system.", "All leave is requested in {v}."],
                       ["Which system is used to book annual leave at {co}?", "Where do staff submit holiday requests?"],
                       v=w.tools["hr"])
    s.append(Section("Booking leave", [Block("p", [booking, filler(w)]),
                                       Block(w.pick(["ul", "ol"]), [notice_short, notice_long, response])]))
    carry_f = make.say(["You may carry over {v} into the next leave year.",
                        "Unused holiday of {v} can be carried forward into the following year."],
                       ["How many unused holiday days can be rolled over to the next year?",
                        "What is the limit on carrying leave forward at {co}?",
                        "How much untaken leave may be moved into the following year?"],
                       v=f"{w.pick(['at most', 'up to', 'no more than'])} {carry} days")
    carry_date = make.say(["Carried-over days must be used by {v}.", "Days carried forward lapse if not taken by {v}."],
                          ["By when must carried-forward leave be taken?",
                           "What is the deadline for using holiday rolled over from last year?"],
                          v=w.day_month())
    buy = make.say(["You may buy {v} of leave each year through salary sacrifice.",
                    "Staff can purchase {v} a year via salary sacrifice."],
                   ["How many additional days of holiday can staff purchase per year?",
                    "What is the cap on buying extra leave at {co}?"], v=f"up to {extra} extra days")
    window_month = w.pick(MONTHS)
    window = make.say(["Requests are made in the purchase window, which runs from {v}.",
                       "The window for buying leave is {v}."],
                      ["When can employees buy extra leave?", "During which dates is the leave purchase window open?"],
                      v=f"1 to {w.n(14, 28)} {window_month}")
    s.append(Section(w.pick(["Carrying over unused leave", "Carry-over and buying leave"]),
                     [Block("p", [carry_f, carry_date, filler(w)]), Block("p", [buy, window])]))
    volunteering = make.say(["Volunteering day: {v} to volunteer with a registered charity.",
                             "Everyone gets {v} for volunteering with a charity."],
                            ["How much paid time off is given for charity volunteering?",
                             "How many volunteering days does {co} offer?"],
                            v=f"{w.pick(['1 paid day', '2 paid days'])} a year")
    birthday = make.say(["Birthday leave: 1 paid day off, taken {v}.", "The birthday day off must be taken {v}."],
                        ["When must birthday leave be used?", "Within what period is the birthday day off taken?"],
                        v=f"within {w.n(1, 4)} weeks of your birthday")
    s.append(Section("Other paid days off", [Block("ul", [volunteering, birthday])]))
    return "Annual Leave Policy", s


def doc_expenses(world: Company, make: FactMaker):
    w = world
    c1, c2 = w.offices[0], w.pick(["London", "Paris", "New York", "Berlin", "Stockholm", "Zurich"])
    sym = w.pick(["£", "£", "€", "$"])
    hotel1, hotel2 = f"{sym}{w.n(9, 20) * 10} a night", f"{sym}{w.n(15, 30) * 10} a night"
    s = []
    s.append(Section("Overview", [Block("p", [
        f"This policy covers business travel and expenses for everyone at {w.co_full}.", filler(w), filler(w)])]))
    hotel_a = make.say(["Hotel stays are capped at {v} in most cities, including {city}.",
                        "Standard hotel cap: {v}."],
                       ["What is the most a hotel room may cost per night for {co} staff?",
                        "What is the standard nightly hotel limit?",
                        "How much can an employee spend on a hotel per night?"], v=hotel1, city=c1)
    hotel_b = make.say(["In {city} the cap is {v}.", "{city}: {v}."],
                       ["What is the hotel cap for {city}?", "How much may a hotel in {city} cost per night?"],
                       v=hotel2, city=c2)
    meals = make.say(["Meals are reimbursed up to {v}.", "Daily meal cap: {v}."],
                     ["What is the daily meal allowance when travelling on business?",
                      "How much can staff claim for food per day?"], v=f"{sym}{w.n(25, 70)} a day")
    mileage = make.say(["Business mileage in a private car is paid at {v}.", "Mileage rate: {v}."],
                       ["What mileage rate does {co} pay for using your own car?",
                        "How much is reimbursed per mile driven on business?"], v=f"{w.n(25, 60)}p per mile")
    s.append(Section("Limits", [Block(w.pick(["ul", "p", "table"]), [hotel_a, hotel_b, meals, mileage])]))
    hours = w.n(3, 8)
    flights = make.say(["Flights under {h} hours are booked in {v}.", "For journeys shorter than {h} hours, staff fly {v}."],
                       ["What class must employees fly on flights shorter than {h} hours?",
                        "Which cabin is allowed on short business flights?"],
                       v=w.pick(["economy class", "economy", "premium economy"]), h=hours)
    booking = make.say(["All travel is booked through {v}.", "Book trains, flights and hotels with {v}."],
                       ["Which travel agency or tool must be used to book business trips?",
                        "Through whom are {co} business trips booked?"],
                       v=w.pick([w.tool(), f"{w.faker.last_name()} Travel"]))
    s.append(Section("Booking travel", [Block("p", [booking, flights, filler(w)])]))
    deadline = make.say(["Claims must be submitted {v}.", "Submit each claim {v}."],
                        ["How long do staff have to claim an expense?", "What is the time limit for expense claims?"],
                        v=f"within {w.pick([30, 45, 60, 90])} days of the expense")
    receipts = make.say(["A receipt is required for any item over {v}.", "Receipts are needed above {v}."],
                        ["Above what amount is a receipt needed for an expense claim?",
                         "From what value must a claim include a receipt?"], v=f"{sym}{w.n(5, 50)}")
    system = make.say(["Claims are made in {v}.", "Expenses are claimed through {v}."],
                      ["Which system do {co} employees use to claim expenses?", "Where are expense claims submitted?"],
                      v=w.tools["expenses"])
    approver = make.say(["Claims above {amount} also need approval from {v}.", "Any claim over {amount} is approved by {v}."],
                        ["Who must approve expense claims above {amount}?", "Who signs off large expense claims over {amount}?"],
                        v=w.person(), amount=f"{sym}{w.n(5, 50) * 100:,}")
    paid = make.say(["Approved claims are paid {v}.", "Reimbursement arrives {v}."],
                    ["When are approved expenses paid back?", "How soon are staff reimbursed for approved claims?"],
                    v=w.pick(["in the next monthly payroll", f"within {w.n(3, 10)} working days", "with the next salary payment"]))
    s.append(Section("Claiming expenses", [Block(w.pick(["ol", "ul", "p"]), [system, deadline, receipts, approver, paid])]))
    return w.pick(["Expenses and Travel Policy", "Travel and Expenses Policy", "Business Travel Policy"]), s


def doc_remote(world: Company, make: FactMaker):
    w = world
    s = [Section("Purpose", [Block("p", [f"This policy sets out how {w.co_full} staff may work away from the office.", filler(w)])])]
    days = make.say(["Eligible employees may work {v}.", "Staff can work {v}, agreed with their manager."],
                    ["How many days a week can eligible staff work remotely?",
                     "How much home working does the policy allow each week?"],
                    v=f"up to {w.n(1, 4)} days a week from home")
    core = make.say(["Core hours are {v}, when everyone should be available.", "Core hours: {v} in your local time."],
                    ["What are the core hours at {co}?", "Between which times must remote staff be reachable?"],
                    v=f"{w.hour(9, 10)} to {w.hour(15, 16)}")
    anchor = make.say(["Each team has {v} in the office.", "Teams agree {v} on which everyone comes in."],
                      ["How many anchor days in the office does each team have?",
                       "How often must a team meet in the office?"],
                      v=w.pick([f"{w.n(1, 2)} anchor day a week", f"{w.n(1, 3)} anchor days a month"]))
    eligible = make.say(["You become eligible {v}.", "Remote work is open to employees {v}."],
                        ["When does an employee become eligible for remote working?",
                         "How long must someone work at {co} before they can work from home?"],
                        v=w.pick(["once probation is passed", f"after {w.n(1, 6)} months' service", "from the first day"]))
    s.append(Section("How much remote work", [Block(w.pick(["p", "ul"]), [days, core, anchor, eligible])]))
    allowance = make.say(["New home workers receive a one-off {v} towards a desk and chair.",
                          "Home office allowance: {v}, paid once."],
                         ["How much money is given for setting up a home office?",
                          "What budget do staff get for home furniture?"],
                         v=w.money(150, 600, 10))
    abroad = make.say(["Working from another country is allowed for {v}.", "Work abroad: {v}, approved in advance."],
                      ["How long may an employee work from abroad?", "What is the limit on working outside the country?"],
                      v=f"up to {w.n(10, 30)} working days a year")
    wifi = make.say(["Your home network must use {v}.", "Home Wi-Fi must have {v}."],
                    ["What security must a home Wi-Fi network have?", "What kind of encryption is required at home?"],
                    v=w.pick(["WPA2 or stronger encryption", "WPA3 encryption", "a password of at least 12 characters"]))
    s.append(Section("Equipment and security", [Block(w.pick(["p", "ul"]), [allowance, abroad, wifi, filler(w)])]))
    return w.pick(["Remote Work Policy", "Hybrid Working Policy"]), s


def doc_security(world: Company, make: FactMaker):
    w = world
    s = [Section("Scope", [Block("p", [f"These rules protect {w.co_full}'s systems, customers and staff.", filler(w)])])]
    length = make.say(["Passwords must be {v} long.", "Minimum password length: {v}."],
                      ["What is the minimum password length at {co}?", "How long must a staff password be?",
                       "How many characters does a password need?"], v=f"at least {w.n(10, 16)} characters")
    service = make.say(["Service accounts and shared administrator accounts need {v}.",
                        "For service accounts the minimum is {v}."],
                       ["How long must passwords for service accounts be?",
                        "What length is required for shared administrator passwords?"], v=f"at least {w.n(18, 32)} characters")
    manager = make.say(["The company password manager is {v}.", "Store every password in {v}, the approved password manager."],
                       ["What is the name of the {co} password manager?", "Which password manager do staff use?"],
                       v=w.tools["passwords"])
    lockout = make.say(["Accounts lock after {v}.", "After {v} the account is locked for 15 minutes."],
                       ["After how many wrong passwords is an account locked?", "How many failed logins trigger a lockout?"],
                       v=f"{w.n(3, 10)} failed attempts")
    s.append(Section("Passwords", [Block(w.pick(["p", "ul"]), [length, service, manager, lockout])]))
    mfa = make.say(["Multi-factor authentication through {v} is required for all staff.", "MFA uses the {v} app."],
                   ["Which app provides multi-factor authentication?", "What authenticator do {co} employees use?"],
                   v=w.tools["mfa"])
    enrol = make.say(["An account not enrolled in MFA {v} is suspended.", "New staff must enrol {v}."],
                     ["How soon must a new starter set up MFA?", "By when must MFA be enrolled before the account is suspended?"],
                     v=f"within {w.n(1, 7)} working days of the start date")
    lock = make.say(["Screens lock automatically {v}.", "Laptops lock {v}."],
                    ["When do laptop screens lock automatically?", "After how long idle does a screen lock?"],
                    v=f"after {w.n(2, 15)} minutes of inactivity")
    s.append(Section("Multi-factor authentication", [Block("p", [mfa, enrol, lock])]))
    report = make.say(["Report a suspected incident {v}.", "Suspected incidents must be reported {v}."],
                      ["How quickly must a security incident be reported?", "What is the deadline for reporting a suspected breach?"],
                      v=f"within {w.pick([15, 30, 60])} minutes" if w.rng.random() < 0.5 else f"within {w.n(1, 24)} hours")
    hotline = make.say(["The security hotline is {v} from any desk phone.", "Call {v} to reach the security hotline."],
                       ["Which extension reaches the security hotline?", "What internal number should be dialled for security?"],
                       v=f"extension {w.n(1000, 9999)}")
    ack = make.say(["The on-call engineer acknowledges every report {v}.", "Reports are acknowledged {v}."],
                   ["How fast does the on-call security engineer respond to a report?",
                    "Within what time is an incident report acknowledged?"], v=f"within {w.pick([10, 15, 20, 30, 60])} minutes")
    email = make.say(["Email {v} with any details.", "The security mailbox is {v}."],
                     ["Which email address takes security reports?", "Where should staff email suspected phishing?"],
                     v=f"security@{w.domain}")
    head = make.say(["The Head of Security is {v}.", "{v} leads the security team."],
                    ["Who is the head of security at {co}?", "Who runs the security team?"], v=w.person())
    s.append(Section("Reporting incidents", [Block(w.pick(["ol", "ul", "p"]), [report, hotline, ack, email, head])]))
    return w.pick(["Passwords and MFA", "Information Security Standard", "Security Incident Reporting"]), s


def doc_it(world: Company, make: FactMaker):
    w = world
    s = [Section("Overview", [Block("p", [f"{w.pick(TEAMS[2:3] + ['Workplace Technology', 'End-User Services'])} supports every {w.co} office.", filler(w)])])]
    hours = make.say(["The service desk is open {v}.", "Service desk hours: {v}."],
                     ["What are the IT service desk's opening hours?", "When can staff reach the IT help desk?"],
                     v=f"{w.hour(7, 9)} to {w.hour(17, 20)} on weekdays")
    portal = make.say(["Raise every request in {v}, the service desk portal.", "Tickets are logged in {v}."],
                      ["Which portal is used to raise IT tickets?", "Where do {co} employees log IT requests?"],
                      v=w.tools["tickets"])
    p1 = make.say(["Priority 1 tickets get a response {v}.", "P1 response: {v}."],
                  ["How quickly is a priority 1 ticket answered?", "What is the response target for the most urgent tickets?"],
                  v=f"within {w.pick([10, 15, 30, 60])} minutes")
    p3 = make.say(["Priority 3 tickets are resolved {v}.", "P3 resolution target: {v}."],
                  ["What is the resolution target for a priority 3 ticket?", "How long does a low-priority IT ticket take to fix?"],
                  v=f"within {w.n(2, 10)} working days")
    s.append(Section("Service desk", [Block(w.pick(["ul", "p", "table"]), [hours, portal, p1, p3])]))
    laptop = make.say(["The standard laptop is the {v}.", "Staff receive a {v} as standard."],
                      ["Which laptop model do {co} staff get as standard?", "What is the default laptop?"],
                      v=f"{w.brand((2, 2))}Book {w.pick(['Pro', 'Air', 'X', ''])} {w.n(13, 16)}".replace("  ", " "))
    replace = make.say(["Laptops are replaced {v}.", "Replacement cycle: {v}."],
                       ["How often are laptops replaced?", "After how long does a laptop get swapped for a new one?"],
                       v=f"every {w.n(3, 5)} years")
    tag = make.say(["Asset tags follow the format {v}.", "Every laptop carries an asset tag: {v}."],
                   ["What format do laptop asset tags follow?", "How are laptop asset tags numbered?"],
                   v=f"{w.co[:2].upper()}-L followed by {w.pick(['five', 'six', 'four'])} digits")
    recycle = make.say(["Old laptops go to {v} for recycling.", "{v} recycles laptops that are retired."],
                       ["Which company recycles old laptops?", "Who takes retired laptops for recycling?"],
                       v=f"{w.faker.last_name()} {w.pick(['Circuit Recovery', 'Recycling', 'E-Waste Services', 'Green IT'])}")
    s.append(Section("Laptops", [Block(w.pick(["p", "ul"]), [laptop, replace, tag, recycle])]))
    backup = make.say(["The {tool} agent backs up laptop folders {v}.", "Backups run {v}."],
                      ["How often are laptop folders backed up?", "How frequently does the backup agent run?"],
                      v=f"every {w.n(1, 12)} hours", tool=w.tools["backup"])
    retention = make.say(["Email is archived for {v}.", "Email archive retention: {v}."],
                         ["How long is email kept in the archive?", "For how many years is email archived?"],
                         v=f"{w.n(3, 10)} years")
    restore = make.say(["A restore request is completed {v}.", "Restores are completed {v}."],
                       ["How long does it take to restore a deleted file?", "What is the turnaround for a restore request?"],
                       v=f"within {w.n(1, 3)} working days")
    s.append(Section("Backup and retention", [Block(w.pick(["p", "ul"]), [backup, retention, restore])]))
    code = f"{w.co[:2].upper()}-{w.n(100, 599)}"
    meaning = w.pick(MEANINGS)
    err = make.say(["Error {code} means {v}.", "{code}: {v}."],
                   ["What does error code {code} mean?", "What is wrong when the VPN shows {code}?"], v=meaning, code=code)
    users = make.say(["Each gateway supports {v}.", "Capacity: {v} per gateway."],
                     ["How many people can use one VPN gateway at once?", "What is the concurrent user limit of a gateway?"],
                     v=f"up to {w.n(100, 900)} concurrent users")
    review = make.say(["A review of new software takes {v}.", "Security review of a new application: {v}."],
                      ["How long does a software request review take?", "How long until a new app is approved?"],
                      v=f"up to {w.n(2, 15)} working days")
    s.append(Section(w.pick(["VPN and software", "Remote access"]), [Block(w.pick(["ul", "p"]), [err, users, review, filler(w)])]))
    return w.pick(["IT Service Guide", "Laptops and Equipment", "IT Handbook"]), s


def doc_product(world: Company, make: FactMaker):
    w = world
    name = f"{w.brand()} {w.pick(PRODUCT_TYPES)}"
    variant = f"{name.split()[0]} {w.pick(['Cold', 'Max', 'Lite', 'XL'])}"
    s = []
    launched = make.say(["It was launched in {v} and is the best-selling product in the range.",
                         "The {p} first went on sale in {v}."],
                        ["When was the {p} launched?", "In which month did the {p} go on sale?",
                         "Since when has the {p} been sold?"], v=w.month_year(2012, 2025), p=name)
    fleet = make.say(["More than {v} units are in service.", "As of {d}, more than {v} {p} units are in service."],
                     ["How many {p} units are in service?", "How many {p} robots are in use?"],
                     v=w.num(300, 9000), p=name, d=w.month_year(2025, 2026))
    s.append(Section("Overview", [Block("p", [f"The {name} is {w.co}'s {w.pick(['autonomous mobile robot', 'lifting robot', 'picking system', 'charging station'])} for warehouses and production lines.",
                                             launched, fleet, filler(w)])]))
    specs = [
        make.say(["Payload: {v}", "The {p} carries {v}."], ["What is the payload of the {p}?", "How much weight can the {p} carry?",
                                                           "What is the maximum load of the {p}?"], v=f"{w.n(3, 60) * 5} kg", p=name),
        make.say(["Top speed: {v}", "It travels at up to {v}."], ["How fast can the {p} go?", "What is the top speed of the {p}?"],
                 v=f"{w.n(5, 30) / 10:.1f} m/s", p=name),
        make.say(["Battery runtime: {v}", "One charge lasts {v}."], ["How long does the {p} run on one charge?",
                                                                   "What is the battery life of the {p}?"],
                 v=f"{w.n(4, 16)} hours", p=name),
        make.say(["Weight: {v}", "The {p} weighs {v}."], ["How much does the {p} weigh?", "How heavy is the {p}?"],
                 v=f"{w.n(20, 400)} kg", p=name),
        make.say(["List price: {v} (excluding VAT)", "The list price is {v}."],
                 ["How much does the {p} cost?", "What is the list price of the {p}?", "What does a {p} sell for?"],
                 v=w.money(4000, 60000, 100), p=name),
        make.say(["Charging: {v} from 10% to 90%", "A full charge takes {v}."],
                 ["How long does the {p} take to charge?", "What is the charging time of the {p}?"],
                 v=f"{w.n(30, 150)} minutes", p=name),
        make.say(["Operating temperature: {v}", "It operates between {v}."],
                 ["In what temperature range does the {p} operate?", "What temperatures can the {p} work in?"],
                 v=f"{w.n(-5, 5)} °C to {w.n(35, 50)} °C", p=name),
        make.say(["Ingress protection: {v}", "The {p} is rated {v}."],
                 ["What is the ingress protection rating of the {p}?", "What IP rating does the {p} have?"],
                 v=f"IP{w.pick([44, 54, 55, 65, 67])}", p=name),
        make.say(["Docking accuracy: {v}", "It docks to within {v}."],
                 ["How accurately does the {p} dock?", "What is the docking precision of the {p}?"], v=f"±{w.n(3, 20)} mm", p=name),
    ]
    w.rng.shuffle(specs)
    s.append(Section(w.pick(["Key specifications", "Specifications", "Technical data"]), [Block(w.pick(["ul", "ul", "table", "p"]), specs[:w.n(5, 9)])]))
    cold = make.say(["The {q} variant operates down to {t} and carries a list price of {v}.",
                     "The {q} costs {v} and works down to {t}."],
                    ["How much does the {q} cost?", "What is the price of the {q} variant?"],
                    v=w.money(5000, 70000, 100), q=variant, t=f"-{w.n(10, 30)} °C")
    module = make.say(["{m}: {d}; list price {v}.", "The {m} ({d}) costs {v}."],
                      ["How much is the {m}?", "What is the price of the {m} for the {p}?"],
                      v=w.money(300, 5000, 50), m=f"{w.pick(['Conveyor', 'Lift', 'Tow', 'Shelf', 'Scanner'])} {w.pick(['Top', 'Module', 'Kit'])}",
                      d=w.pick(["raises the deck by 60 mm", "a powered roller deck", "tows trolleys", "reads shelf labels"]), p=name)
    s.append(Section(w.pick(["Variants and modules", "Options"]), [Block(w.pick(["p", "ul"]), [cold, module, filler(w)])]))
    lead = make.say(["Standard units ship {v}.", "Lead time: {v}."],
                    ["How long after ordering does a {p} ship?", "What is the delivery lead time for the {p}?"],
                    v=f"{w.n(4, 16)} weeks after order confirmation", p=name)
    quote = make.say(["Quotes are valid for {v}.", "A quote stays valid for {v}."],
                     ["How long is a {p} quote valid?", "For how many days does a sales quote stand?"], v=f"{w.pick([30, 45, 60, 90])} days", p=name)
    commission = make.say(["A typical site of up to {k} units takes {v} to commission.",
                           "Commissioning a site of up to {k} units takes {v}."],
                          ["How long does it take to commission a site with {k} units?",
                           "How many days does a typical commissioning take?"], v=f"{w.n(2, 10)} days", k=w.n(10, 40))
    s.append(Section("Ordering and lead times", [Block(w.pick(["ol", "p"]), [lead, quote, commission])]))
    service = make.say(["A preventive maintenance visit is due {v}.", "Maintenance interval: {v}, whichever comes first."],
                       ["How often does the {p} need maintenance?", "What is the service interval for the {p}?"],
                       v=f"every {w.n(3, 12)} months or every {w.num(500, 4000)} operating hours", p=name)
    kit = make.say(["A spares kit costs {v}.", "Customers can order a spares kit for {v}."],
                   ["What does the {p} spares kit cost?", "How much is the spares kit?"], v=w.money(100, 2000, 10), p=name)
    cycles = make.say(["Battery packs keep at least 80% of their capacity for {v}.", "Battery life: {v}."],
                      ["How many charge cycles does the {p} battery last?", "How long does a battery pack keep its capacity?"],
                      v=f"{w.num(1000, 5000)} full charge cycles", p=name)
    pm = make.say(["Product questions: {v}, Product Manager", "Product manager: {v}."],
                  ["Who is the product manager for the {p}?", "Who should I ask about the {p} product?"], v=w.person(), p=name)
    s.append(Section(w.pick(["Maintenance", "Service and support"]), [Block(w.pick(["p", "ul"]), [service, kit, cycles, pm])]))
    return f"{name}: Product Sheet", s


def doc_release(world: Company, make: FactMaker):
    w = world
    product = w.brand()
    major, minor = w.n(2, 9), w.n(0, 9)
    ver = f"{product} {major}.{minor}"
    old = f"{product} {major}.{max(0, minor - 1)}" if minor else f"{product} {major - 1}.9"
    s = []
    released = make.say(["{r} was released on {v}.", "Version {r}.0 became available on {v}."],
                        ["When was {r} released?", "On what date did {r} come out?", "What is the release date of {r}?"],
                        v=w.date(2024, 2026), r=ver)
    build = make.say(["The release is {v}.", "{r} ships as {v}."], ["What is the build number of {r}?", "Which build is {r}?"],
                     v=f"build {w.n(1000, 9999)}", r=ver)
    s.append(Section("Summary", [Block("p", [released, build, f"It builds on {old} and fixes the known issues listed in its notes.", filler(w)])]))
    f1, f2 = w.rng.sample(FEATURES, 2)
    feature = make.say(["The headline feature is {v}, which {d}.", "{v} is new: it {d}."],
                       ["What is the main new feature in {r}?", "Which headline feature does {r} add?"],
                       v=f1, d=w.pick(["plans routes around blocked aisles", "forecasts battery wear", "shows every site on one map",
                                       "replays a robot's path", "exports reports as CSV"]), r=ver)
    zones = make.say(["Sites can now define {v}.", "The limit rises to {v}."],
                     ["How many traffic zones can a site have in {r}?", "What is the maximum number of zones per site?"],
                     v=f"up to {w.n(16, 128)} traffic zones", r=ver)
    langs = w.rng.sample(LANGUAGES, 2)
    lang = make.say(["The interface is now available in {v}.", "Two new languages: {v}."],
                    ["Which languages did {r} add?", "What interface languages are new in {r}?"], v=f"{langs[0]} and {langs[1]}", r=ver)
    sites = make.say(["The dashboard shows {v}.", "The {f} shows {v} at once."],
                     ["How many sites can the {f} show?", "What is the site limit of the {f}?"], v=f"up to {w.n(5, 50)} sites", f=f2)
    role = make.say(["Only users with the {v} role can see more than one site.", "The {v} role is needed for multi-site views."],
                    ["Which role is needed to see more than one site?", "What user role unlocks the multi-site view?"],
                    v=w.pick(["Regional Manager", "Fleet Administrator", "Site Owner", "Operations Lead"]))
    s.append(Section("New features", [Block(w.pick(["ul", "p"]), [feature, zones, lang, sites, role])]))
    fix_id = f"{product[:2].upper()}-{w.n(1000, 9999)}"
    fix = make.say(["{v}: {d}.", "Fixed in {v}: {d}."],
                   ["Which fix made {d2}?", "What is the ticket number of the fix that {d3}?"],
                   v=fix_id, d="Route Replay now shows arm movements", d2="Route Replay show arm movements",
                   d3="added arm movements to Route Replay")
    fixes = make.say(["The release includes {v}.", "{r} ships {v}."], ["How many bug fixes are in {r}?", "How many bugs does {r} fix?"],
                     v=f"{w.n(5, 140)} bug fixes", r=ver)
    browsers = w.rng.sample(BROWSERS, 3)
    workaround = make.say(["The fleet map may flicker on {b} {n}; workaround: {v}.", "Known issue on {b} {n}: map flicker. Workaround: {v}."],
                          ["What is the workaround for the map flicker on {b} {n}?", "How can users avoid the flicker on {b}?"],
                          v=f"use {browsers[1]}, {browsers[2]} or {w.pick(BROWSERS)}", b=browsers[0], n=w.n(14, 19))
    s.append(Section("Fixes and known issues", [Block(w.pick(["ul", "p"]), [fix, fixes, workaround])]))
    firmware = make.say(["{r} requires {v}.", "Robots need {v} to run {r}."],
                        ["What firmware version does {r} require?", "Which robot firmware is needed for {r}?"],
                        v=f"firmware {w.n(2, 6)}.{w.n(0, 9)} or later", r=ver)
    notice = make.say(["Administrators get an email {v} before a cloud upgrade.", "Cloud customers are emailed {v} ahead of the upgrade."],
                      ["How long before a cloud upgrade are administrators emailed?", "How much warning do admins get before an upgrade?"],
                      v=f"{w.pick([24, 48, 72, 96])} hours")
    support = make.say(["{o} is supported until {v}.", "Support for {o} ends on {v}."],
                       ["Until when is {o} supported?", "When does support for {o} end?"], v=w.date(2026, 2028), o=old)
    api = make.say(["The API allows {v}.", "API rate limit: {v}."], ["What is the API request limit?", "How many API calls can a site make per minute?"],
                   v=f"{w.num(100, 3000)} requests per minute per site")
    s.append(Section("Upgrading", [Block(w.pick(["ol", "ul", "p"]), [firmware, notice, support, api])]))
    return f"{ver} Release Notes", s


def doc_minutes(world: Company, make: FactMaker):
    w = world
    venue = f"{w.brand()} {w.pick(VENUES)}"
    chair = w.person()
    s = []
    meeting_date = w.date(2025, 2026)
    where = make.say(["Location: {v}, near {c}.", "The meeting was held at {v}, near {c}."],
                     ["Where was the leadership offsite held?", "At which venue did the leadership team meet?"], v=venue, c=w.city())
    chairf = make.say(["Chair: {v} (CEO).", "{v}, the CEO, chaired the meeting."],
                      ["Who chaired the leadership offsite?", "Who was in the chair at the meeting?"], v=chair)
    when = make.say(["Meeting date: {v}.", "The team met on {v}."], ["When did the leadership offsite take place?",
                                                                  "On what date was the meeting held?"], v=meeting_date)
    s.append(Section("Meeting details", [Block("ul", [where, chairf, when])]))
    cfo = w.person()
    revenue = make.say(["Revenue for the half year was {v}, {p}% above plan.", "Half-year revenue came in at {v}."],
                       ["What was revenue for the first half of the year?", "How much did {co} earn in the half year?"],
                       v=f"£{w.n(5, 200)}.{w.n(0, 9)} million", p=w.n(1, 9))
    cash = make.say(["Cash at the end of the half was {v}.", "The company held {v} in cash."],
                    ["How much cash did {co} have at the half-year?", "What was the cash balance?"], v=f"£{w.n(2, 90)}.{w.n(0, 9)} million")
    forecast = make.say(["The full-year forecast stays at {v}.", "The team kept the full-year forecast unchanged at {v}."],
                        ["What is the full-year revenue forecast?", "At what figure was the annual forecast held?"],
                        v=f"£{w.n(10, 400)} million")
    margin = make.say(["Hardware gross margin was {v}, two points below plan.", "Gross margin on hardware reached {v}."],
                      ["What was the hardware gross margin?", "How high was the gross margin on hardware?"], v=f"{w.n(20, 60)}%")
    s.append(Section("1. First-half results", [Block("p", [f"{cfo} presented the results for the first half."]),
                                               Block("ul", [revenue, cash, forecast, margin])]))
    roles = make.say(["The team approved {v} for the next quarter.", "Headcount: {v} were approved."],
                     ["How many new roles did leadership approve?", "How many new positions were signed off?"],
                     v=f"{w.n(3, 60)} new roles")
    floor = make.say(["{co} will lease the {v} in {c}.", "Decision: lease the {v} for the {c} team."],
                     ["Which floor did {co} decide to lease in {c}?", "What office space was agreed for {c}?"],
                     v=f"{w.pick(FLOORS)} floor of {w.pick(['Tower A', 'Tower B', 'Block C', 'the North Building'])}", c=w.offices[1])
    hold = make.say(["The subscription price will be held at {p} until {v}.", "Price hold: {p} until {v}."],
                    ["Until when did leadership decide to hold the subscription price?", "How long will the price hold last?"],
                    v=w.date(2026, 2027), p=f"£{w.n(50, 300)} per robot per month")
    owner = make.say(["Action: {v} to circulate the plan by {d}.", "{v} owns the hiring plan, due {d}."],
                     ["Who owns the hiring plan action?", "Which person has to circulate the plan?"], v=w.person(), d=w.day_month())
    budget = make.say(["A budget of {v} was agreed for the move.", "The move has a budget of {v}."],
                      ["What budget was agreed for the office move?", "How much money is set aside for the move?"],
                      v=w.pick([f"£{w.n(100, 900)}k", f"£{w.n(1, 9)}.{w.n(1, 9)} million"]))
    s.append(Section("2. Decisions", [Block(w.pick(["ul", "p"]), [roles, floor, hold, owner, budget])]))
    return f"Minutes: Leadership Team Offsite, {w.pick(['Q1', 'Q2', 'Q3', 'Q4'])} {w.n(2024, 2026)}", s


def doc_org(world: Company, make: FactMaker):
    w = world
    s = []
    founded = make.say(["{co_full} was founded in {v} by {a} and {b}.", "The company was founded in {v}."],
                       ["When was {co} founded?", "In what year did {co} start?"], v=str(w.n(1990, 2018)), co_full=w.co_full,
                       a=w.person(), b=w.person())
    ceo = make.say(["The chief executive is {v}.", "{v} has been CEO since {y}."], ["Who is the CEO of {co}?", "Who runs {co}?"],
                   v=w.person(), y=w.n(2015, 2025))
    chair = make.say(["The board is chaired by {v}.", "Board chair: {v}."], ["Who chairs the board of {co}?",
                                                                        "Who is the chair of the board?"], v=w.person())
    staff = make.say(["{co} employed {v} people in {m}.", "Headcount in {m}: {v}."], ["How many employees did {co} have in {m}?",
                                                                                     "What was the headcount in {m}?"],
                     v=w.num(80, 4000), m=w.month_year(2025, 2026))
    s.append(Section("Who we are", [Block("p", [founded, ceo, chair, staff, filler(w)])]))
    hq = make.say(["The head office is at {v}, {c}.", "Headquarters: {v}, {c}."],
                  ["What is the address of the {co} head office?", "Where is {co}'s headquarters?"],
                  v=f"{w.n(1, 200)} {w.faker.last_name()} {w.pick(STREETS)}", c=w.offices[0])
    offices = []
    for city in w.offices[1:3]:
        offices.append(make.say(["{c}: {v}, opened in {y}.", "The {c} office has {v} and opened in {y}."],
                                ["How many people work in the {c} office?", "How many staff are based in {c}?"],
                                v=f"{w.n(10, 400)} staff", c=city, y=w.n(2005, 2025)))
    s.append(Section("Offices", [Block(w.pick(["ul", "p", "table"]), [hq, *offices])]))
    proto = make.say(["The first prototype, nicknamed {v}, was built in a garage.", "Its first working prototype was nicknamed {v}."],
                     ["What was the nickname of the first prototype?", "What was the first prototype robot called?"],
                     v=w.pick(["Badger", "Otter", "Marten", "Wren", "Kestrel", "Vole", "Hare", "Newt"]))
    customers = make.say(["{co} now serves {v} in {k} countries.", "Customers: {v} across {k} countries."],
                         ["How many customers does {co} have?", "How many customer sites does {co} serve?"],
                         v=f"more than {w.num(50, 900)} customers", k=w.n(3, 30))
    plant = make.say(["The manufacturing plant opened in {v}.", "{p} opened in {v}."],
                     ["When did the {co} plant open?", "When did {p} open?"], v=w.month_year(2010, 2025), p=f"{w.brand()} Works")
    s.append(Section("History", [Block("p", [proto, customers, plant, filler(w)])]))
    return w.pick(["Company Overview", "Company History", "About Us"]), s


def doc_pricing(world: Company, make: FactMaker):
    w = world
    sw = w.brand()
    sym = w.pick(["£", "£", "$", "€"])
    tiers = ["Standard", "Plus", "Enterprise"] if w.rng.random() < 0.6 else ["Bronze", "Silver", "Gold"]
    base = w.n(40, 250)
    rows = []
    for i, tier in enumerate(tiers):
        price = f"{sym}{base + i * w.n(10, 60)} per robot per month"
        hours = w.pick([2, 4, 8, 24])
        rows.append(make.say(["{t}: {v}, with a first response within {h} hours.", "{t} costs {v} (first response {h} hours)."],
                             {"v": ["How much is the {s} {t} tier?", "What does {s} {t} cost per robot?",
                                    "What is the price of the {t} plan?"]},
                             v=price, t=tier, h=hours, s=sw))
    discount = make.say(["Fleets of {k} or more robots on one contract receive {v}.", "Volume discount: {v} for {k}+ robots."],
                        {"v": ["What volume discount applies to large fleets?", "How much off do big fleets get?"],
                         "k": ["How large must a fleet be to get the volume discount?",
                               "From how many robots does the discount apply?"]},
                        v=f"{w.n(3, 15)}% off the list price", k=f"{w.pick([50, 100, 150, 200, 250])}")
    sla = make.say(["Uptime commitment: {v}.", "The service is committed to {v} uptime."],
                   ["What uptime does the {s} service commit to?", "What availability is guaranteed?"],
                   v=f"{w.pick(['99.5', '99.9', '99.95', '99.0'])}%", s=sw)
    s = [Section("Subscription tiers", [Block("p", [f"All prices are in {'GBP' if sym == '£' else 'EUR' if sym == '€' else 'USD'} and exclude VAT.", filler(w)]),
                                        Block(w.pick(["ul", "table", "p"]), rows)]),
         Section("Discounts and commitments", [Block(w.pick(["ul", "p"]), [discount, sla, filler(w)])])]
    warranty = make.say(["New hardware carries a {v}.", "Warranty: {v} on parts and labour."],
                        ["How long is the hardware warranty?", "What warranty comes with new hardware?"],
                        v=f"{w.pick([12, 18, 24, 36])}-month warranty")
    repair = make.say(["The target turnaround for a warranty repair is {v}.", "Warranty repairs are completed in {v}."],
                      ["What is the target turnaround for a warranty repair?", "How long does a warranty repair take?"],
                      v=f"{w.n(3, 20)} business days")
    returns = make.say(["US customers send returns to {v}.", "Returns from the US go to {v}."],
                       ["Where do US customers send warranty returns?", "What is the returns address for American customers?"],
                       v=f"the returns bay at the {w.offices[3]} office")
    restock = make.say(["Unopened items returned within {d} days carry {v}.", "A return of unused stock costs {v}."],
                       ["What restocking fee applies to returns?", "How much is charged for returning unused items?"],
                       v=f"a {w.n(5, 25)}% restocking fee", d=w.pick([14, 30, 60]))
    s.append(Section("Warranty and returns", [Block(w.pick(["ul", "p", "ol"]), [warranty, repair, returns, restock])]))
    return f"{sw} Pricing and Support Plans", s


def doc_faq(world: Company, make: FactMaker):
    w = world
    items = []
    arrive = make.say(["Arrive at reception at {v} on your first day.", "Please come to reception at {v} on day one."],
                      ["What time should a new starter arrive on the first day?", "When do I turn up on my first morning?"],
                      v=f"{w.hour(8, 10)} local time")
    items.append(("When do I arrive on my first day?", [arrive, f"New starters join on a {w.pick(WEEKDAYS)}."]))
    buddy = make.say(["Your buddy stays with you for {v}.", "Buddies support new starters for {v}."],
                     ["How long does an onboarding buddy stay with a new starter?", "For how long do I keep my buddy?"],
                     v=f"your first {w.n(1, 6)} months")
    items.append(("Who is my onboarding buddy?", ["Your buddy is an experienced colleague from a neighbouring team.", buddy]))
    probation = make.say(["Probation lasts {v}.", "The probation period is {v}."],
                         ["How long is probation at {co}?", "What is the length of the probation period?"], v=f"{w.n(3, 6)} months")
    notice = make.say(["The notice period during probation is {v}.", "While on probation, the notice period is {v}."],
                      ["What is the notice period during probation?", "How much notice applies while on probation?"],
                      v=w.pick(["1 week on either side", "2 weeks on either side", "one week"]))
    items.append(("How long is probation?", [probation, notice]))
    welcome = make.say(["{n} is the {v} welcome session held on every new starter's first {d}.",
                        "The welcome session, {n}, is a {v} video call."],
                       ["How long is the {n} welcome session?", "How many minutes does {n} last?"],
                       v=f"{w.pick([45, 60, 90, 120])}-minute", n=f"{w.co} 101", d=w.pick(WEEKDAYS))
    items.append((f"What is {w.co} 101?", [welcome, "It covers the company's history, products and values."]))
    payday = make.say(["Salaries are paid on {v}.", "Pay day is {v}."], ["When are salaries paid?", "On which day does pay arrive?"],
                      v=w.pick(["the last working day of the month", f"the {w.n(15, 28)}th of each month"]))
    pension = make.say(["{co} contributes {v} of salary to the pension.", "Employer pension contribution: {v}."],
                       ["How much does {co} pay into the pension?", "What is the employer pension contribution?"],
                       v=f"{w.n(3, 10)}%")
    items.append(("When am I paid?", [payday, pension]))
    parking = make.say(["Parking is booked on {v}.", "Book a parking space in {v}."],
                       ["Where is office parking booked?", "How do I reserve a car park space?"], v=w.tools["intranet"])
    breakfast = make.say(["Breakfast is free on {v} in the staff kitchen.", "Free breakfast: {v}."],
                         ["On which day is breakfast free?", "When can staff get free breakfast?"],
                         v=w.pick(WEEKDAYS) + "s")
    items.append(("Is there parking and food?", [parking, breakfast]))
    w.rng.shuffle(items)
    blocks = [Block("faq", body, title=question) for question, body in items]
    half = len(blocks) // 2
    return "New Starter FAQ", [Section("Getting started", blocks[:half]), Section("Pay and facilities", blocks[half:])]


def doc_learning(world: Company, make: FactMaker):
    w = world
    sym = w.pick(["£", "€", "$"])
    s = []
    budget = make.say(["Every employee has a learning budget of {v}.", "Learning budget: {v} per person."],
                      ["How much learning budget does each employee get?", "What is the yearly training allowance per person?"],
                      v=f"{sym}{w.n(4, 30) * 100:,} a year")
    joiner = make.say(["New joiners receive {v} for each whole month left in the financial year.",
                       "Joiners get {v} per remaining month of the year."],
                      ["How much learning budget does a new joiner get per remaining month?",
                       "What is the pro-rata learning budget for joiners?"], v=f"{sym}{w.n(5, 25) * 10}")
    approve = make.say(["Line managers approve or decline learning requests {v}.", "Managers decide on requests {v}."],
                       ["How quickly must a manager decide on a training request?",
                        "Within how many days is a learning request approved?"], v=f"within {w.n(2, 10)} working days")
    exception = make.say(["A director can approve exceptions for certifications {v}.", "Directors may approve certification costs {v}."],
                         ["Up to what amount can a director approve above the learning budget?",
                          "What is the director's limit for certification exceptions?"], v=f"up to {sym}{w.n(10, 50) * 100:,}")
    days = make.say(["Staff also get {v} of study leave.", "Study leave: {v}."],
                    ["How much study leave do employees get?", "How many study days are given?"], v=f"{w.n(2, 10)} days a year")
    platform = make.say(["Courses are booked in {v}.", "The learning platform is {v}."],
                        ["Where are training courses booked?", "What is the learning platform called?"], v=w.tools["learning"])
    s.append(Section("Your budget", [Block(w.pick(["p", "ul"]), [budget, joiner, days, filler(w)])]))
    s.append(Section("Requests and approvals", [Block(w.pick(["ol", "p", "ul"]), [platform, approve, exception])]))
    return w.pick(["Learning and Development", "Training Policy"]), s


# Change notices: the same fact with an old and a new value, and the date it changes.


def doc_change(world: Company, make: FactMaker):
    w = world
    effective = w.date(2026, 2027)
    published = w.date(2025, 2026)
    kind = w.pick(["price", "policy", "appointment", "office", "budget"])
    s = []
    if kind == "price":
        sw = w.brand()
        old, new = w.money_pair(40, 400, 1)
        unit = w.pick(["per robot per month", "per user per month", "per site per year", "per licence"])
        core = make.say(["From {d} the {s} subscription rises from {old} to {new} {u}.",
                         "The {s} price changes on {d}: it was {old} and becomes {new} {u}.",
                         "{s} will cost {new} {u} from {d}, up from {old}."],
                        {"new": ["What is the {s} subscription price from {d}?", "What is the new {s} price?",
                                 "How much will {s} cost after the change?"],
                         "old": ["What was the {s} price before {d}?", "What did {s} cost before the increase?",
                                 "What was the old {s} subscription price?"],
                         "d": ["From what date does the new {s} price apply?", "When does the {s} price change take effect?"]},
                        old=old, new=new, u=unit, d=effective, s=sw)
        # the unit belongs to the answer where the sentence writes it right after the new value
        core = [_widen(f, unit) for f in core]
        code = make.say(["Sales must use price book code {v} for quotes dated {d} or later.", "Price book code: {v}."],
                        ["Which price book code must sales use from {d}?", "What code is used for new {s} quotes?"],
                        v=f"{sw[:2].upper()}-STD-{w.n(100, 999)}", d=effective, s=sw)
        grand = make.say(["Contracts signed before {p} keep the old price until {v}.",
                          "Existing customers keep their price until {v}."],
                         ["Until when do existing customers keep the old price?", "How long are contracts signed before {p} protected?"],
                         v=w.date(2026, 2028), p=published)
        add = make.say(["Robots added during the protected period are charged at the contract price, up to {v}.",
                        "Customers may add {v} at the old price."],
                       ["How many robots can be added at the old price?", "What is the limit on robots added during the protected period?"],
                       v=f"{w.n(5, 50)} additional robots")
        s = [Section("Summary", [Block("p", [core, filler(w)])]),
             Section("Grandfathering rules", [Block(w.pick(["ol", "p"]), [grand, add, code])])]
        title = f"{sw} Subscription Price Change from {effective.split(' ', 1)[1] if w.rng.random() < 0.5 else effective}"
    elif kind == "policy":
        thing, old_v, new_v, unit_q = w.pick([
            ("hotel cap", f"£{w.n(9, 15) * 10} a night", f"£{w.n(16, 22) * 10} a night", "per night"),
            ("core hours", f"{w.hour(9, 10)} to {w.hour(15, 16)}", f"{w.hour(10, 11)} to {w.hour(16, 17)}", ""),
            ("home working allowance", f"up to {w.n(1, 2)} days a week", f"up to {w.n(3, 4)} days a week", ""),
            ("meal cap", f"£{w.n(25, 40)} a day", f"£{w.n(41, 60)} a day", "per day"),
            ("learning budget", f"£{w.n(5, 10) * 100} a year", f"£{w.n(11, 20) * 100} a year", ""),
            ("mileage rate", f"{w.n(25, 40)}p per mile", f"{w.n(41, 55)}p per mile", ""),
        ])
        core = make.say(["From {d}, the {t} changes from {old} to {new}.", "The {t} is now {new}, replacing {old}, from {d}.",
                         "From {d} the {t} will be {new} (previously {old})."],
                        {"new": ["What is the {t} from {d}?", "What is the new {t}?", "What will the {t} be after {d}?"],
                         "old": ["What was the {t} before {d}?", "What was the previous {t}?"],
                         "d": ["From what date does the new {t} apply?", "When does the revised {t} take effect?"]},
                        old=old_v, new=new_v, d=effective, t=thing)
        transition = make.say(["The transition period ends on {v}.", "Teams have until {v} to adjust."],
                              ["When does the transition period for the {t} change end?", "By when must teams adapt to the new {t}?"],
                              v=w.date(2026, 2027), t=thing)
        first = make.say(["To ask for an exception, {v}.", "The first step for an exception is to {v}."],
                         ["What is the first step in asking for an exception to the {t} rule?",
                          "How do I start an exception request?"],
                         v=w.pick(["talk to your line manager first", "raise a ticket in " + w.tools["tickets"],
                                   "email " + f"people@{w.domain}"]), t=thing)
        owner = make.say(["This notice is owned by {v}.", "Questions about this change go to {v}."],
                         ["Who owns the {t} change notice?", "Who should I contact about the {t} change?"], v=w.person(), t=thing)
        s = [Section("What changes", [Block("p", [core, filler(w)])]),
             Section("Transition", [Block(w.pick(["ul", "p"]), [transition, first, owner])])]
        title = f"{thing.capitalize()} Change from {effective}"
    elif kind == "appointment":
        role = w.pick(["Chief Financial Officer", "Chief Technology Officer", "Chief People Officer", "Head of Sales"])
        short = {"Chief Financial Officer": "CFO", "Chief Technology Officer": "CTO", "Chief People Officer": "CPO",
                 "Head of Sales": "Head of Sales"}[role]
        old_p, new_p = w.person(), w.person()
        core = make.say(["{new} will succeed {old} as {r} on {d}.", "{old} steps down as {r}; {new} takes over on {d}."],
                        {"new": ["Who is the new {s} of {co}?", "Who replaces {old} as {s}?", "Who will be {co}'s next {s}?"],
                         "d": ["When does {new} take over as {s}?", "On what date does the new {s} start in the role?"]},
                        old=old_p, new=new_p, r=role, d=effective, s=short)
        last = make.say(["{old}'s last day as {s} is {v}.", "{old} leaves the role on {v}."],
                        ["What is {old}'s last day as {s}?", "When does {old} leave the {s} role?"],
                        v=w.date(2026, 2027), old=old_p, s=short)
        start = make.say(["{new} joined on {v} as {s}-designate.", "{new} started on {v} to shadow the role."],
                         ["On what date did {new} start at {co}?", "When did the {s}-designate join?"],
                         v=w.date(2026, 2027), new=new_p, s=short)
        from_co = make.say(["{new} joins from {v}.", "{new} was previously at {v}."],
                           ["Where did {new} work before?", "Which company does {new} join from?"],
                           v=w.faker.company(), new=new_p)
        review = make.say(["By {v}, the new {s} will recommend whether {t} still meets the company's needs.",
                           "The new {s} reviews {t} by {v}."],
                          ["By when must the new {s} recommend whether {t} still fits?", "When is the review of {t} due?"],
                          v=w.date(2027, 2027), s=short, t=w.tools["expenses"])
        s = [Section("Announcement", [Block("p", [core, filler(w)])]),
             Section("Handover", [Block(w.pick(["ul", "p"]), [last, start, from_co, review])])]
        title = f"New {short} Appointment"
    elif kind == "office":
        city = w.city()
        address = make.say(["The office is at {v}, {c}.", "Address: {v}, {c}."],
                           ["What is the street address of the {c} office?", "Where is the new {c} office?"],
                           v=f"{w.faker.last_name()} {w.pick(STREETS)} {w.n(1, 2000)}", c=city)
        staff = make.say(["It opens with {v}, rising to {k} by the end of the year.", "The {c} team starts with {v}."],
                         ["How many staff did the {c} office open with?", "What is the starting headcount in {c}?"],
                         v=f"{w.n(8, 80)} staff", k=w.n(81, 150), c=city)
        opening = make.say(["The {c} office opened on {v}.", "Opening date: {v}."],
                           ["When did the {c} office open?", "On what date did {co} open in {c}?"], v=effective, c=city)
        head = make.say(["The office is led by {v}.", "Site lead: {v}."], ["Who leads the {c} office?", "Who runs the {c} site?"],
                        v=w.person(), c=city)
        customer = make.say(["The first contract from {c} was signed with {v}.", "First customer: {v}."],
                            ["Which customer signed the first contract from the {c} office?", "Who was the first {c} customer?"],
                            v=w.faker.company(), c=city)
        scope = make.say(["The office {v}.", "The {c} site {v}."],
                         ["Does the {c} office do manufacturing?", "Is there manufacturing in {c}?"],
                         v="does not do manufacturing or engineering", c=city)
        s = [Section("Summary", [Block("p", [opening, staff, filler(w)])]),
             Section("The office", [Block(w.pick(["ul", "p"]), [address, head, customer, scope])])]
        title = f"{city} Office Opening"
    else:
        sym = w.pick(["£", "€"])
        old_b, new_b = w.n(4, 10) * 100, w.n(11, 20) * 100
        core = make.say(["From {d} the learning budget rises from {old} to {new} per employee per year.",
                         "The yearly learning budget is {new} from {d}, up from {old}."],
                        {"new": ["How much is the learning budget from {d}?", "What is the new annual learning budget?"],
                         "old": ["What was the learning budget before {d}?", "What was the old learning budget?"],
                         "d": ["From what date does the increased learning budget apply?", "When does the budget increase start?"]},
                        old=f"{sym}{old_b:,}", new=f"{sym}{new_b:,}", d=effective)
        joiner = make.say(["New joiners receive {v} for each whole month remaining.", "Joiners get {v} per remaining month."],
                          ["How much budget does a new joiner receive per remaining month?", "What is the monthly pro-rata amount for joiners?"],
                          v=f"{sym}{new_b // 12}")
        director = make.say(["Directors can approve exceptions {v}.", "Certification exceptions are approved by a director {v}."],
                            ["Up to what total can a director approve above the budget?", "What is a director's approval limit?"],
                            v=f"up to {sym}{w.n(10, 40) * 100:,}")
        s = [Section("What changes", [Block("p", [core, filler(w)])]),
             Section("Details", [Block(w.pick(["ul", "p"]), [joiner, director, filler(w)])])]
        title = "Learning Budget Increase"
    return title, s


_TOPICS = ["Pricing", "Payroll", "Warranty", "Leave", "Security", "Onboarding", "Expenses", "Equipment", "Training",
           "Facilities", "Technical support", "Contract", "Parking", "Benefits"]
_EVENTS = ["Annual review deadline", "Benefits enrolment closes", "Summer party", "Office move", "Price book switch",
           "Board meeting", "Annual stocktake", "Objectives agreed by", "Next policy review", "Customer letters sent by",
           "Pay review letters", "Fire drill", "Budget submissions due"]


def extra_section(world: Company, make: FactMaker) -> Section:
    """A contacts list or a key-dates list: more names and dates per passage, as real documents end with."""
    w = world
    if w.rng.random() < 0.5:
        items = []
        for topic in w.rng.sample(_TOPICS, w.n(2, 4)):
            items.append(make.say(["{t} questions: {v} ({r})", "{t}: ask {v}, {r}"],
                                  ["Who handles {tl} questions?", "Who should I contact about {tl}?",
                                   "Which person deals with {tl} queries at {co}?"],
                                  v=w.person(), r=w.pick(ROLES), t=topic, tl=topic.lower()))
        return Section(w.pick(["Who to contact", "Contacts", "Questions"]), [Block("ul", items)])
    items = []
    for event in w.rng.sample(_EVENTS, w.n(2, 4)):
        items.append(make.say(["{e}: {v}"], ["When is the {el}?", "What date is set for the {el}?",
                                                         "On which date is the {el} this year?"],
                              v=w.date(2025, 2027), e=event, el=event.lower()))
    return Section(w.pick(["Key dates", "Timeline", "Dates to remember"]), [Block("ul", items)])


# The same attribute under several conditions (by office, by duration, by tier, by length of service...) and
# one sentence with a rule and its exception: the question's condition decides which value answers. Measured
# on the train questions: a third of the reader's errors were the right kind of value for another condition
# ("£190 a night" in London asked for Rotterdam).


def _notice(w: Company) -> str:
    if w.rng.random() < 0.4:
        return f"at least {w.n(24, 72)} hours' notice"
    weeks = w.n(1, 6)
    return f"at least {weeks} week's notice" if weeks == 1 else f"at least {weeks} weeks' notice"


def _durations(w: Company) -> list[str]:
    a, b = w.n(3, 4), w.n(5, 9)
    return [w.pick(["A single day or half day", "One day", "Up to 1 day"]), f"{2} to {a} days", f"{a + 1} to {b} days",
            f"{b + 1} days or more"]


def _service_bands(w: Company) -> list[str]:
    a, b = w.n(1, 2), w.n(3, 6)
    return [f"less than {a} year{'s' if a > 1 else ''} of service", f"{a} to {b} years of service",
            f"more than {b} years of service"]


def _week_bands(w: Company) -> list[str]:
    a, b = w.n(6, 26), w.n(30, 40)
    return [f"weeks 1 to {a}", f"weeks {a + 1} to {b}", f"weeks {b + 1} to 52"]


_ALLOWANCES = [("Team lunch", "per person"), ("Client dinner", "per guest"), ("Professional membership", "a year"),
               ("Mobile phone", "a month"), ("Conference travel", "per trip"), ("Childcare vouchers", "a week"),
               ("Home broadband", "a month"), ("Eye test", "per test"), ("Taxi after 22:00", "per journey"),
               ("Language lessons", "a term"), ("Gym membership", "a month"), ("Relocation", "per move"),
               ("Overnight parking", "a night"), ("Working lunch", "per head"), ("Rail card", "a year")]


def conditional_section(world: Company, make: FactMaker) -> Section:
    w = world
    kind = w.pick(["office", "duration", "tier", "service", "weeks", "role", "variant", "allowance", "allowance"])
    layout = w.pick(["ul", "ul", "p", "table"])
    items = []
    if kind == "office":
        attr = w.pick([("public holidays", lambda: f"{w.n(6, 14)} public holidays", "How many public holidays does the {c} office observe?",
                        "What public holidays apply in {c}?"),
                       ("hotel cap", lambda: f"{w.pick(['£', '€', '$'])}{w.n(9, 25) * 10} a night", "What is the hotel cap in {c}?",
                        "How much can staff spend on a hotel in {c} per night?"),
                       ("People Partner", w.person, "Who is the People Partner for the {c} office?",
                        "Which People Partner covers {c}?"),
                       ("parking spaces", lambda: f"{w.n(10, 300)} spaces", "How many parking spaces does the {c} office have?",
                        "How much parking is there in {c}?"),
                       ("reception hours", lambda: f"{w.hour(7, 9)} to {w.hour(17, 19)}", "When is reception open in {c}?",
                        "What are the reception hours at the {c} office?")])
        label, value, *questions = attr
        for city in w.rng.sample(w.offices, 3):
            items.append(make.say(["{c}: {v}", "In {c}, {v}", "{c} office: {v}"], list(questions), v=value(), c=city))
        heading = f"{label.capitalize()} by office"
    elif kind == "duration":
        for band in _durations(w):
            items.append(make.say(["{b}: {v}", "{b} needs {v}"],
                                  ["How much notice is needed for {bl} of leave?", "What notice applies to a request of {bl}?"],
                                  v=_notice(w), b=band,
                                  bl=band.lower().replace("a single day or half day", "a single day")))
        heading = "Notice periods"
    elif kind == "tier":
        tiers = w.pick([["Bronze", "Silver", "Gold"], ["Basic", "Standard", "Premium"], ["Standard", "Plus", "Enterprise"]])
        what = w.pick([("first response", lambda: f"within {w.pick([1, 2, 4, 8, 24])} hours"),
                       ("phone support", lambda: w.pick(["weekdays 08:00 to 18:00", "24/7", "not included", "weekdays only"])),
                       ("on-site visit", lambda: f"within {w.n(1, 5)} business days"),
                       ("price", lambda: f"{w.pick(['£', '$', '€'])}{w.n(20, 400)} per robot per month")])
        for tier in tiers:
            items.append(make.say(["{t}: {w} {v}", "{t} plan: {w} {v}", "On the {t} plan the {w} is {v}"],
                                  ["What is the {w} on the {t} plan?", "What {w} do {t} customers get?",
                                   "For a {t} customer, what is the {w}?"], v=what[1](), t=tier, w=what[0]))
        heading = "Support plans"
    elif kind == "service":
        for band in _service_bands(w):
            items.append(make.say(["With {b}: {v}", "Employees with {b} receive {v}"],
                                  ["How much company sick pay does an employee with {b} get?",
                                   "What sick pay applies after {b}?"],
                                  v=f"{w.n(1, 26)} weeks at full pay", b=band))
        heading = "Company sick pay"
    elif kind == "weeks":
        pays = ["full pay", f"{w.pick([50, 75, 90])}% of salary", "statutory pay only", "unpaid"]
        for band, pay in zip(_week_bands(w), w.rng.sample(pays, 3)):
            items.append(make.say(["{b}: {v}", "In {b} the primary carer receives {v}"],
                                  ["What pay does a primary carer get in {b}?", "How is parental leave paid in {b}?"],
                                  v=pay, b=band))
        heading = "Parental pay"
    elif kind == "role":
        for role in ["directors and heads of department", "managers", "all other employees"]:
            items.append(make.say(["For {r}: {v}", "{r}: {v}"],
                                  ["What is the notice period for {r}?", "How much notice must {r} give?"],
                                  v=f"{w.n(1, 6)} {w.pick(['months', 'weeks'])}", r=role))
        heading = "Notice after probation"
    elif kind == "allowance":
        # Prices keep their unit in the answer ("£75 per person"), as the reference answers do.
        for item, unit in w.rng.sample(_ALLOWANCES, 4):
            limit = w.pick(["", "", "up to "])
            items.append(make.say(["{i}: {v}", "{i} is reimbursed at {v}", "For {il}, the limit is {v}"],
                                  ["How much can be claimed for {il}?", "What is the limit for {il}?",
                                   "What does {co} pay towards {il}?", "What is the allowance for {il}?"],
                                  v=f"{limit}{w.money(5, 900)} {unit}", i=item, il=item.lower()))
        heading = w.pick(["Allowances", "What you can claim", "Benefits at a glance"])
    else:
        base = w.brand()
        for suffix in w.rng.sample(["Standard", "Cold", "Max", "Lite", "Mk II", "XL"], 3):
            items.append(make.say(["{p} {s}: {v}", "The {p} {s} carries {v}"],
                                  ["What is the payload of the {p} {s}?", "How much can the {p} {s} carry?"],
                                  v=f"{w.n(3, 80) * 5} kg", p=base, s=suffix))
        heading = "Payload by model"
    return Section(heading, [Block(layout, items)])


def two_case_sentence(world: Company, make: FactMaker) -> list[Fact]:
    """A rule and its exception in one sentence: either value can be asked for."""
    w = world
    sym = w.pick(["£", "€", "$"])
    kind = w.pick(["meal", "class", "laptop", "response", "deposit"])
    if kind == "meal":
        return make.say(["The meal cap is {a}, falling to {b} if breakfast is included in the hotel rate",
                         "Meals are capped at {a}; when breakfast is included in the room rate the cap is {b}"],
                        {"a": ["What is the daily meal cap?", "How much can be claimed for meals per day?"],
                         "b": ["What does the meal cap fall to if breakfast is included?",
                               "What is the meal limit when the hotel includes breakfast?"]},
                        a=f"{sym}{w.n(35, 60)} a day", b=f"{sym}{w.n(20, 34)}")
    if kind == "class":
        hours = w.n(4, 8)
        return make.say(["Flights under {h} hours are booked in {a}; flights of {h} hours or more may be booked in {b}",
                         "Staff fly {a} on trips shorter than {h} hours and {b} on longer ones"],
                        {"a": ["What class is used for flights under {h} hours?", "Which cabin is booked for short flights?"],
                         "b": ["What class can staff fly on flights of {h} hours or more?",
                               "Which cabin is allowed on long-haul flights?"]},
                        a="economy class", b=w.pick(["premium economy", "business class"]), h=hours)
    if kind == "laptop":
        return make.say(["Laptops are replaced every {a}, or every {b} for engineers running simulations",
                         "The replacement cycle is {a} ({b} for engineering workstations)"],
                        {"a": ["How often are standard laptops replaced?", "What is the normal laptop replacement cycle?"],
                         "b": ["How often are engineering laptops replaced?", "What replacement cycle applies to engineers?"]},
                        a=f"{w.n(4, 5)} years", b=f"{w.n(2, 3)} years")
    if kind == "response":
        return make.say(["Urgent tickets are answered {a}; everything else {b}",
                         "The team answers urgent requests {a} and routine ones {b}"],
                        {"a": ["How quickly are urgent tickets answered?", "What is the response time for urgent requests?"],
                         "b": ["How quickly are routine requests answered?", "What is the response time for non-urgent tickets?"]},
                        a=f"within {w.pick([15, 30, 60])} minutes", b=f"within {w.n(1, 3)} working days")
    return make.say(["Orders need a deposit of {a}, or {b} for customers on a framework agreement",
                     "A {a} deposit is due with each order ({b} under a framework agreement)"],
                    {"a": ["What deposit is needed with an order?", "How large is the standard order deposit?"],
                     "b": ["What deposit do framework agreement customers pay?", "How much deposit applies under a framework agreement?"]},
                    a=f"{w.n(10, 40)}%", b=f"{w.n(0, 9)}%")


def _widen(fact: Fact, unit: str) -> Fact:
    """Extend an answer over the unit that directly follows it ("£195" -> "£195 per robot per month")."""
    follow = fact.evidence[fact.end:]
    if follow.startswith(" " + unit):
        return Fact(fact.evidence, fact.start, fact.end + 1 + len(unit), fact.questions, fact.group)
    return fact


DOC_KINDS = {"leave": doc_leave, "expenses": doc_expenses, "remote": doc_remote, "security": doc_security,
             "it": doc_it, "product": doc_product, "release": doc_release, "minutes": doc_minutes, "org": doc_org,
             "pricing": doc_pricing, "faq": doc_faq, "learning": doc_learning, "change": doc_change}
KIND_WEIGHTS = {"leave": 1, "expenses": 1, "remote": 1, "security": 1, "it": 1, "product": 1.5, "release": 1.5,
                "minutes": 1, "org": 1, "pricing": 1, "faq": 1, "learning": 0.7, "change": 2.5}


# ---------------------------------------------------------------------------------------------------------------
# One document of a chosen kind


def generate_document(rng: random.Random, kind: str | None = None, absent_share: float = 0.25) -> GeneratedDoc:
    """One invented document of `kind` (else a weighted random kind); about `absent_share` of its fact
    sentences are left out, and their questions become questions the document cannot answer."""
    world = Company(rng)
    make = FactMaker(world)
    kind = kind or rng.choices(list(KIND_WEIGHTS), weights=list(KIND_WEIGHTS.values()))[0]
    title, sections = DOC_KINDS[kind](world, make)
    if rng.random() < 0.6:
        sections.append(extra_section(world, make))
    if rng.random() < 0.7:
        sections.insert(rng.randint(1, len(sections)), conditional_section(world, make))
    for _ in range(rng.randint(0, 2)):
        section = rng.choice(sections)
        paragraphs = [block for block in section.blocks if block.kind == "p"]
        if paragraphs:
            block = rng.choice(paragraphs)
            block.items.insert(rng.randint(0, len(block.items)), two_case_sentence(world, make))
    owner, reviewed, version = _meta(world, make, title)
    return render_document(rng, world, kind, title, sections, (owner, reviewed, version), absent_share)
