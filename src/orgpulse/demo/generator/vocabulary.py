"""What the demo population is made of: names, places, error strings, shares and weights.

Plain data only; ``population`` and ``activity`` draw from it with the generator's one
``random.Random``, so changing an entry (or its order) changes the generated traffic.
"""

from __future__ import annotations

TRAJECTORIES = ("steady", "growing", "declining", "churned", "new")
_TRAJECTORY_SHARES = (0.35, 0.25, 0.20, 0.10, 0.10)
KINDS = ("district", "university", "employer")
_KIND_SHARES = (0.45, 0.25, 0.30)

_PLACES = (
    "Riverside", "Lakewood", "Cedar Falls", "Maple Grove", "Fairview", "Oak Ridge",
    "Springfield", "Greenville", "Brookhaven", "Pine Bluff", "Westfield", "Clearwater",
    "Harmony", "Silver Lake", "Franklin", "Madison", "Jefferson", "Granite City",
    "Willow Creek", "Bayside", "Highland Park", "Elmwood", "Stonebridge", "Mesa Verde",
    "Red Rock", "Prairie View", "Northfield", "Eastport", "Hillsboro", "Kingsport", "Marion",
    "Clayton", "Sierra Vista", "Coral Springs", "Blue Ridge", "Ashland", "Fox River",
    "Rolling Hills", "Santa Rosa", "Lake Charles",
)  # fmt: skip
_DISTRICT_FORMS = (
    "{} Unified School District", "{} Independent School District", "{} Public Schools",
    "{} County Schools", "{} Area School District", "{} Community Schools",
)  # fmt: skip
_UNIVERSITY_FORMS = (
    "{} State University", "University of {}", "{} Community College", "{} College",
    "{} Technical College",
)  # fmt: skip
_EMPLOYER_FIRST = (
    "Northwind", "Bluebird", "Summit", "Ironwood", "Brightpath", "Harbor", "Keystone",
    "Evergreen", "Redwood", "Lumen", "Cascade", "Pioneer", "Sterling", "Atlas", "Meridian",
    "Crescent", "Beacon", "Silverline", "Tidewater", "Contoso",
)  # fmt: skip
_EMPLOYER_SECOND = (
    "Logistics", "Health", "Manufacturing", "Foods", "Retail", "Energy", "Financial",
    "Hospitality", "Construction", "Staffing", "Analytics", "Telecom",
)  # fmt: skip
_SCHOOL_NAMES = (
    "Washington", "Roosevelt", "Lincoln", "Kennedy", "Garfield", "Hawthorne", "Emerson",
    "Whitman", "Sequoia", "Valley View", "Hillcrest", "Sunset", "Meadowbrook", "Parkside",
    "Lakeside", "Cesar Chavez", "Sojourner Truth", "Rosa Parks", "Mountain View", "Ridgecrest",
)  # fmt: skip
_SCHOOL_LEVELS = ("Elementary School", "Middle School", "High School", "Academy")
_PROGRAMS = (
    "School of Nursing", "College of Engineering", "Business Administration",
    "Computer Science", "Teacher Education", "Biology", "Psychology", "Liberal Arts",
    "Criminal Justice", "Health Sciences",
)  # fmt: skip
_SITE_CITIES = (
    "Dallas", "Memphis", "Columbus", "Reno", "Tacoma", "Omaha", "Tulsa", "Raleigh", "Boise",
    "Albany", "Fresno", "Toledo",
)  # fmt: skip
_SITE_KINDS = ("Warehouse", "Office", "Distribution Center", "Plant", "Service Center")
_FIRST_NAMES = (
    "Maria", "James", "Aisha", "Wei", "Sofia", "Liam", "Olivia", "Noah", "Emma", "Mateo",
    "Ava", "Ethan", "Priya", "Lucas", "Mia", "Jamal", "Chloe", "Diego", "Hannah", "Kenji",
    "Grace", "Omar", "Isabella", "Daniel", "Fatima", "Samuel", "Zoë", "Andre", "Lily",
    "Carlos", "Nora", "Elijah", "Leah", "José", "Harper", "Tariq", "Ruby", "Minh", "Elena",
    "Marcus", "Ingrid", "Kwame", "Yuki", "Gabriel", "Amara", "Owen", "Lucía", "Henry",
    "Nadia", "Caleb",
)  # fmt: skip
_LAST_NAMES = (
    "Garcia", "Smith", "Nguyen", "Johnson", "Patel", "Williams", "Kim", "Brown", "Martinez",
    "Jones", "Chen", "Davis", "Rodriguez", "Miller", "Okafor", "Wilson", "Hernández",
    "Anderson", "Singh", "Thomas", "Lopez", "Taylor", "O'Brien", "Moore", "Ali", "Jackson",
    "Müller", "White", "Tanaka", "Harris", "Rossi", "Clark", "Kowalski", "Lewis", "Haddad",
    "Walker", "Mensah", "Young", "Ivanova", "King",
)  # fmt: skip
_TIMEZONES = (  # (zone, standard UTC offset in minutes, weight)
    ("America/New_York", -300, 30), ("America/Chicago", -360, 25),
    ("America/Denver", -420, 10), ("America/Phoenix", -420, 5),
    ("America/Los_Angeles", -480, 20), ("America/Detroit", -300, 4),
    ("America/Indiana/Indianapolis", -300, 3), ("America/Anchorage", -540, 2),
    ("Pacific/Honolulu", -600, 1),
)  # fmt: skip
_LOCAL_HOURS = {  # local hour → relative weight of sessions starting in it
    "district": {6: 1, 7: 4, 8: 9, 9: 10, 10: 10, 11: 9, 12: 8, 13: 9, 14: 9, 15: 7, 16: 5,
                 17: 3, 18: 3, 19: 4, 20: 4, 21: 2, 22: 1},
    "university": {0: 2, 1: 1, 8: 2, 9: 5, 10: 8, 11: 9, 12: 8, 13: 9, 14: 9, 15: 8, 16: 7,
                   17: 6, 18: 5, 19: 6, 20: 7, 21: 7, 22: 5, 23: 3},
    "employer": {7: 3, 8: 8, 9: 10, 10: 10, 11: 9, 12: 6, 13: 9, 14: 9, 15: 8, 16: 6, 17: 3,
                 18: 1},
}  # fmt: skip
_WEEKEND = {"district": 0.12, "university": 0.45, "employer": 0.08}
_HOLIDAY = {"district": 0.08, "university": 0.18, "employer": 0.45}
_SIS = {
    "district": ("PowerSchool", "Infinite Campus", "Skyward", "Clever", "ClassLink"),
    "university": ("Banner", "PeopleSoft", "Workday Student", "Colleague"),
    "employer": ("Workday", "BambooHR", "ADP", "UKG"),
}
_SSO_PROVIDERS = ("Google Workspace", "Microsoft Entra ID", "Okta", "Clever", "ClassLink")
_SYNC_ERRORS = (
    "SIS timeout", "duplicate student id", "invalid credentials", "rate limited by SIS",
    "missing required field: grade",
)  # fmt: skip
_LMS = ("Canvas", "Schoology", "Google Classroom", "Moodle", "Blackboard", "Brightspace")
_RESUBMIT_REASONS = ("missing pages", "wrong file", "illegible scan", "incomplete answers")
_STANDARDS = tuple(
    f"CCSS.{code}"
    for code in (
        "MATH.6.RP.A.1", "MATH.6.RP.A.3", "MATH.6.NS.B.3", "MATH.6.EE.A.2", "MATH.6.EE.B.7",
        "MATH.7.RP.A.2", "MATH.7.NS.A.1", "MATH.7.EE.B.4", "MATH.7.G.B.6", "MATH.8.EE.C.8",
        "MATH.8.F.A.1", "MATH.8.G.B.7", "ELA.RL.6.1", "ELA.RL.6.2", "ELA.RI.7.1", "ELA.RI.7.8",
        "ELA.W.6.1", "ELA.W.7.2", "ELA.W.8.1", "ELA.SL.8.4",
    )
)  # fmt: skip
_UPLOAD_ERRORS = ("network timeout", "file too large", "unsupported file type", "virus scan")
_FILE_TYPES = ("pdf", "docx", "png", "jpg", "mp4", "pptx")
_LOGIN_FAILURES = ("invalid password", "account locked", "sso assertion failed", "expired link")
_RISK_LEVELS = ("low", "moderate", "high", "critical")
_RISK_WEIGHTS = (40, 30, 20, 10)
_RISK_REASONS = ("low engagement", "missed deadlines", "grade drop", "attendance")
_INTERVENTION_TYPES = ("meeting", "email", "phone call", "referral", "tutoring")
# Per risk level: chance an advisor intervenes, and the longest delay in days before it.
_INTERVENE = {"low": (0.35, 10), "moderate": (0.6, 7), "high": (0.8, 4), "critical": (0.95, 2)}
_ROLE_FACTOR = {"teacher": 1.15, "student": 0.95, "advisor": 1.1, "employee": 0.8, "admin": 0.6}

_MINUTE = tuple(f"{h:02d}:{m:02d}:" for h in range(24) for m in range(60))
_SECOND = tuple(f"{s:02d}Z" for s in range(60))
_TABLE_SIZE = 1024
