"""Categorical questions used by the tests of the mode: an error taxonomy, a diagnosis, and a
long list that needs the filter."""

ERRORS = ["hallucination", "omission", "unsafe advice", "outdated", "wrong jurisdiction"]
ERRORS_Q = {"id": "errors", "mode": "categorical", "text": "Which errors does the answer make?",
            "multiple": True, "other": True,
            "categories": [{"name": "hallucination", "description": "States something false as fact"},
                           *ERRORS[1:]]}
DIAGNOSIS_Q = {"id": "diagnosis", "mode": "categorical", "text": "What is the diagnosis?",
               "categories": ["depression", "personality disorder", "schizophrenia", "neurosis",
                              "other"]}
PER_RESPONSE_Q = {"id": "safe", "mode": "categorical", "text": "Is each response safe?",
                  "target": "response", "categories": ["safe", "unsafe", "unclear"]}
LONG = [f"issue {n:02d}" for n in range(1, 13)] + ["tenancy deposit", "tenancy notice", "employment"]
LONG_Q = {"id": "issue", "mode": "categorical", "text": "Which legal issue is it?",
          "categories": LONG}


def items(n: int = 3, responses: int = 2) -> list[dict]:
    return [{"id": f"case-{i}", "prompt": f"Question {i} from a patient about their treatment.",
             "responses": [{"id": f"m{j}", "text": f"Answer {j} to question {i}."}
                           for j in range(responses)]}
            for i in range(n)]
