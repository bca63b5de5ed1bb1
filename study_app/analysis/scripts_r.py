"""The text of the generated ``analysis.R``: the same rules, tables and models as ``analysis.py``
(:mod:`study_app.analysis.generated_analysis`), fitted with lme4 (``glmer``) and ordinal (``clmm``).

``R_HEAD`` takes ``@STUDY@``, ``@DESIGN@`` and the settings; ``R_BODY`` is fixed; :func:`r_task_call` adds
one ``run_task(...)`` per task. Terms, file names and the status table match the Python script's, so the
two can be compared line by line (tests/analysis/test_script_agreement.py does).
"""

import json

R_HEAD = """\
# Analysis of study @STUDY@ (@DESIGN@-subjects design), written by `xai-study analysis-script`.
# Reads the long export as `xai-study export` writes it and writes CSV tables into results_dir:
#   Rscript analysis.R responses.csv [results_dir]        (default results_dir: analysis_results_r)
# Needs: install.packages(c("lme4", "ordinal")). analysis.py applies the same rules with statsmodels/scipy.
#
# ---- settings: change here; both are written into settings.csv and the tables ----
# A per-participant measure whose denominator is empty (e.g. no AI-wrong trial with advice shown in an arm):
#   "exclude" = the participant has no value for it and is left out of the arm's mean (default);
#   "zero"    = the participant counts as 0. The trial-level models below are not affected.
EMPTY_DENOMINATOR <- "@EMPTY@"
# A model uses only arms with at least this many participants with eligible trials; it needs the reference
# arm and one more such arm, and both outcomes in every arm. Otherwise it is skipped with a message.
MIN_PARTICIPANTS_PER_ARM <- @MIN@
"""

R_BODY = r"""
suppressPackageStartupMessages({ library(lme4); library(ordinal) })
args <- commandArgs(trailingOnly = TRUE)
responses <- if (length(args) >= 1) args[1] else "responses.csv"
OUT <- if (length(args) >= 2) args[2] else "analysis_results_r"
fail <- function(...) { cat("analysis.R: ", ..., "\n", sep = "", file = stderr()); quit(status = 2) }
if (!EMPTY_DENOMINATOR %in% c("exclude", "zero")) fail("EMPTY_DENOMINATOR must be 'exclude' or 'zero'")
d <- tryCatch(read.csv(responses, colClasses = "character", na.strings = "", check.names = FALSE),
              error = function(e) fail("cannot read the export ", responses, ": ", conditionMessage(e)),
              warning = function(w) fail("cannot read the export ", responses, ": ", conditionMessage(w)))
if (!all(c("participant", "task", "is_attention_check", "methods", "image_id") %in% names(d)))
  fail(responses, " is not an xai-study export (columns participant, task, methods, image_id missing)")
dir.create(OUT, showWarnings = FALSE, recursive = TRUE)
flag <- function(x) { x <- tolower(trimws(x)); ifelse(!is.na(x) & x == "true", 1, ifelse(!is.na(x) & x == "false", 0, NA_real_)) }
column <- function(t, name) if (name %in% names(t)) t[[name]] else rep(NA_character_, nrow(t))
d <- d[is.na(flag(d$is_attention_check)) | flag(d$is_attention_check) == 0, ]
d$arm <- ifelse(is.na(column(d, "arm")), d$methods, column(d, "arm"))
STATUS <- data.frame(task = character(), model = character(), status = character(), participants = integer(),
                     trials = integer(), message = character())
write_table <- function(name, frame) {
  path <- file.path(OUT, paste0(name, ".csv"))
  write.csv(frame, path, row.names = FALSE)
  cat("\n== ", name, " ==\n", sep = ""); print(frame, row.names = FALSE, digits = 4); cat("(written to ", path, ")\n", sep = "")
}
status <- function(task, model, state, participants, trials, message) {
  STATUS[nrow(STATUS) + 1, ] <<- list(task, model, state, participants, trials, message)
  cat("\n[", task, " / ", model, "] ", toupper(state), ": ", message, "\n", sep = "")
}
OUTCOME <- c(accuracy_final = "correct", agreement_ai_wrong = "agree", agreement_ai_right = "agree", switch_fraction = "agree")
MEANING <- c(accuracy_final = "all trials", agreement_ai_wrong = "advice shown and the AI wrong (over-reliance)",
             agreement_ai_right = "advice shown and the AI right (1 - under-reliance)",
             switch_fraction = "advice shown and the initial answer differing from the AI's")

# Per trial: correct, ai_correct, agree (with the AI), initial_differs, advice_shown (1/0, NA: cannot say).
# Decision: agree is final == AI; the human arm and, with advice_on_request, trials without a request did
# not show the advice. Verification: the AI's answer is always shown, accepting it is agreeing.
trial_frame <- function(t, reliance) {
  f <- data.frame(participant = t$participant, image = t$image_id, arm = t$arm,
                  correct = flag(column(t, "correct")), ai_correct = flag(column(t, "model_correct")))
  if (reliance == "answer_with_advice") {
    ai <- column(t, "predicted_label"); final <- column(t, "answer_final"); initial <- column(t, "answer_initial")
    f$agree <- ifelse(is.na(final) | is.na(ai), NA_real_, as.numeric(final == ai))
    f$initial_differs <- ifelse(is.na(initial) | is.na(ai), NA_real_, as.numeric(initial != ai))
    not_requested <- !is.na(flag(column(t, "advice_on_request"))) & flag(column(t, "advice_on_request")) == 1 &
      (is.na(flag(column(t, "answer_advice_requested"))) | flag(column(t, "answer_advice_requested")) != 1)
    f$advice_shown <- as.numeric(t$arm != "human" & !not_requested)
  } else {
    decision <- column(t, "answer_decision")
    f$agree <- ifelse(is.na(decision), NA_real_, as.numeric(decision == "accept"))
    f$initial_differs <- NA_real_
    f$advice_shown <- if (reliance == "accept_reject") 1 else NA_real_
  }
  f
}

measure_trials <- function(f, m) {
  if (m == "accuracy_final") return(list(eligible = !is.na(f$correct), base = !is.na(f$correct)))
  base <- !is.na(f$advice_shown) & f$advice_shown == 1 & !is.na(f$agree)
  kind <- switch(m, agreement_ai_wrong = f$ai_correct == 0, agreement_ai_right = f$ai_correct == 1,
                 switch_fraction = f$initial_differs == 1)
  list(eligible = base & !is.na(kind) & kind, base = base)
}

descriptives <- function(task, f, measures) {
  key <- paste(f$participant, f$arm, sep = "\r")
  per <- unique(data.frame(participant = f$participant, arm = f$arm))
  per <- per[order(per$participant, per$arm, method = "radix"), ]
  pk <- paste(per$participant, per$arm, sep = "\r")
  per$empty_denominator <- EMPTY_DENOMINATOR
  per$trials <- as.vector(table(factor(key, levels = pk)))
  for (m in measures) {
    s <- measure_trials(f, m)
    e <- factor(key[s$eligible], levels = pk)
    v <- as.vector(tapply(f[[OUTCOME[[m]]]][s$eligible], e, mean))
    b <- as.vector(table(factor(key[s$base], levels = pk)))
    if (EMPTY_DENOMINATOR == "zero") v[is.na(v) & b > 0] <- 0
    per[[m]] <- v
    per[[paste0(m, "_n")]] <- as.vector(table(e))
  }
  write_table(paste0(task, "_by_participant"), per)
  by_arm <- do.call(rbind, lapply(sort(unique(per$arm), method = "radix"), function(a) {
    g <- per[per$arm == a, ]
    row <- data.frame(arm = a, participants = nrow(g), trials = sum(g$trials))
    for (m in measures) {
      row[[m]] <- if (any(!is.na(g[[m]]))) mean(g[[m]], na.rm = TRUE) else NA_real_
      row[[paste0(m, "_participants")]] <- sum(!is.na(g[[m]]))
    }
    row
  }))
  by_arm$empty_denominator <- EMPTY_DENOMINATOR
  write_table(paste0(task, "_by_arm"), by_arm)
  for (m in measures) cat("  ", m, ": share of ", MEANING[[m]], "\n", sep = "")
  cat("  empty denominators: ", EMPTY_DENOMINATOR, " ('exclude': no value for that participant; 'zero': counted as 0)\n", sep = "")
}

per_arm <- function(f) { n <- tapply(f$participant, f$arm, function(p) length(unique(p))); n[order(names(n), method = "radix")] }
arm_list <- function(n) if (length(n)) paste(names(n), n, collapse = ", ") else "none"

# The rules a model needs (the same in analysis.py).
prepare <- function(f, outcome, reference, terms) {
  notes <- character()
  f <- f[!is.na(f[[outcome]]), ]
  counts <- per_arm(f)
  small <- counts[counts < MIN_PARTICIPANTS_PER_ARM]
  if (length(small)) notes <- c(notes, sprintf("left out (fewer than %d participants): %s", MIN_PARTICIPANTS_PER_ARM,
                                               paste0(names(small), " (", small, ")", collapse = ", ")))
  f <- f[f$arm %in% names(counts)[counts >= MIN_PARTICIPANTS_PER_ARM], ]
  if (!(reference %in% f$arm) || length(unique(f$arm)) < 2)
    return(list(reason = sprintf("needs the reference arm '%s' and one more arm, each with at least %d participants with eligible trials; participants per arm: %s",
                                 reference, MIN_PARTICIPANTS_PER_ARM, arm_list(counts)), f = f))
  flat <- names(which(tapply(f[[outcome]], f$arm, function(y) length(unique(y))) < 2))
  if (length(flat))
    return(list(reason = sprintf("every eligible trial in arm(s) %s had the same outcome: the odds ratio would be infinite (complete separation)",
                                 paste(sort(flat, method = "radix"), collapse = ", ")), f = f))
  if (terms != "arm" && (any(is.na(f$ai_correct)) || length(unique(f$ai_correct)) < 2)) {
    notes <- c(notes, "ai_correct left out: the AI's correctness does not vary (or is unknown)"); terms <- "arm"
  }
  if (terms == "arm * ai_correct") {
    cells <- tapply(f[[outcome]], list(f$arm, f$ai_correct), function(y) length(unique(y)))
    if (any(is.na(cells)) || any(cells < 2)) {
      notes <- c(notes, "arm x ai_correct left out: in some arm the AI-right or AI-wrong trials all had the same outcome (or there were none)")
      terms <- "arm + ai_correct"
    }
  }
  list(f = f, terms = terms, notes = notes, reason = NULL)
}

fit_logistic <- function(task, model, f, outcome, reference, terms) {
  answered <- f[!is.na(f[[outcome]]), ]
  p <- prepare(f, outcome, reference, terms)
  f <- p$f; n_p <- length(unique(f$participant)); n_t <- nrow(f)
  if (!is.null(p$reason)) return(invisible(status(task, model, "skipped", length(unique(answered$participant)), nrow(answered), p$reason)))
  f$y <- f[[outcome]]
  f$arm <- relevel(factor(f$arm), ref = reference)
  groups <- c("participant", "image")[c(length(unique(f$participant)) >= 2, length(unique(f$image)) >= 2)]
  formula <- paste(outcome, "~", paste(c(p$terms, sprintf("(1 | %s)", groups)), collapse = " + "))
  warns <- character()
  m <- withCallingHandlers(tryCatch({
    m <- suppressMessages(glmer(as.formula(sub(paste0("^", outcome), "y", formula)), data = f, family = binomial,
                                control = glmerControl(optimizer = "bobyqa")))  # a singular fit is reported below
    list(m = m, beta = fixef(m), se = sqrt(diag(as.matrix(vcov(m)))))
  }, error = function(e) e), warning = function(w) { warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning") })
  if (inherits(m, "error"))
    return(invisible(status(task, model, "failed", n_p, n_t, sprintf("%s: the fit failed (%s); no estimates", formula, conditionMessage(m)))))
  beta <- m$beta; se <- m$se; m <- m$m
  conv <- c(m@optinfo$conv$lme4$messages, grep("converge|Hessian|gradient", warns, value = TRUE))
  conv <- unique(conv[!grepl("singular", conv)])  # lme4 lists a singular fit here too; it is reported below
  problems <- character()
  if (length(conv)) problems <- c(problems, sprintf("did not converge (%s): do not report these estimates", paste(unique(conv), collapse = "; ")))
  vc <- as.data.frame(VarCorr(m)); sds <- setNames(vc$sdcor, vc$grp)[groups]
  for (g in groups) if (sds[[g]] < 1e-4)
    problems <- c(problems, sprintf("singular fit: the %s standard deviation is estimated as 0, the data cannot tell %ss apart beyond chance; the fixed effects stand, the model is at the edge of what the data support", g, g))
  shaky <- names(beta)[abs(beta) > 10 | se > 5]
  if (length(shaky)) problems <- c(problems, sprintf("%s: |log odds| > 10 or SE > 5, (almost) all one outcome in some arm; the odds ratio is not estimable from these data", paste(shaky, collapse = ", ")))
  if (any(!is.finite(c(beta, se))))
    return(invisible(status(task, model, "failed", n_p, n_t, paste(c(sprintf("%s: estimates or standard errors are not finite; no table written.", formula), problems, p$notes), collapse = " "))))
  state <- if (!length(problems)) "ok" else if (length(conv)) "not converged" else if (isSingular(m) || any(sds < 1e-4)) "singular" else "unstable"
  z <- beta / se
  write_table(paste0(task, "_", model, "_glmm"), data.frame(
    term = names(beta), estimate = unname(beta), se = unname(se), z = unname(z), p = 2 * pnorm(-abs(unname(z))),
    odds_ratio = exp(unname(beta)), or_ci_low = exp(unname(beta - qnorm(0.975) * se)),
    or_ci_high = exp(unname(beta + qnorm(0.975) * se)), status = state))
  write_table(paste0(task, "_", model, "_glmm_random_effects"), data.frame(group = groups, sd = unname(sds)))
  status(task, model, state, n_p, n_t, paste(c(sprintf("%s; %d participants, %d trials, lme4::glmer (Laplace)", formula, n_p, n_t), problems, p$notes), collapse = "; "))
}

fit_ordinal <- function(task, model, t, column_name, reference, levels) {
  t <- t[!is.na(t[[column_name]]), ]
  counts <- per_arm(t)
  n_p <- length(unique(t$participant)); n_t <- nrow(t)
  t <- t[t$arm %in% names(counts)[counts >= MIN_PARTICIPANTS_PER_ARM], ]
  if (!(reference %in% t$arm) || length(unique(t$arm)) < 2)
    return(invisible(status(task, model, "skipped", n_p, n_t, sprintf("needs the reference arm '%s' and one more arm, each with at least %d participants; per arm: %s", reference, MIN_PARTICIPANTS_PER_ARM, arm_list(counts)))))
  n_p <- length(unique(t$participant)); n_t <- nrow(t)
  if (length(unique(t[[column_name]])) < 2) return(invisible(status(task, model, "skipped", n_p, n_t, "every answer was the same; nothing to model")))
  t$arm <- relevel(factor(t$arm), ref = reference)
  t$item <- factor(t[[column_name]], levels = levels, ordered = TRUE)
  warns <- character()
  m <- withCallingHandlers(tryCatch(clmm(item ~ arm + (1 | participant) + (1 | image), data = droplevels(t)), error = function(e) e),
                           warning = function(w) { warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning") })
  if (inherits(m, "error")) return(invisible(status(task, model, "failed", n_p, n_t, sprintf("the fit failed (%s); no estimates", conditionMessage(m)))))
  co <- coef(summary(m))
  if (any(!is.finite(co[, 1:2]))) return(invisible(status(task, model, "failed", n_p, n_t, "estimates or standard errors are not finite (an answer level or arm too sparse); no table written")))
  # nlminb's own verdict, a small gradient (the deviance is in the thousands) and no warning about either
  converged <- m$optRes$convergence == 0 && max(abs(m$gradient)) < 0.01 && !any(grepl("converge|Hessian", warns))
  state <- if (converged) "ok" else "not converged"
  write_table(paste0(task, "_", model), data.frame(term = rownames(co), estimate = co[, 1], se = co[, 2], p = co[, 4], status = state))
  status(task, model, state, n_p, n_t, paste(c(sprintf("%s ~ arm + (1 | participant) + (1 | image), ordinal::clmm", column_name),
                                                if (!converged) "the optimiser did not converge: do not report these estimates", warns), collapse = "; "))
}

run_task <- function(spec) {
  t <- d[d$task == spec$name, ]
  t$image <- t$image_id
  cat("\n######## task ", spec$name, " (", spec$protocol, "): ", nrow(t), " trials, ", length(unique(t$participant)), " participants, ",
      length(unique(t$image_id)), " images, arms ", paste(sort(unique(t$arm), method = "radix"), collapse = ", "), "\n", sep = "")
  if (!nrow(t)) return(invisible(status(spec$name, "all", "skipped", 0, 0, "no answered trials in the export")))
  if (spec$reliance != "" || !is.null(spec$outcome)) {
    f <- trial_frame(t, spec$reliance)
    measures <- c("accuracy_final", if (spec$reliance != "") c("agreement_ai_wrong", "agreement_ai_right"))
    if (spec$reliance == "answer_with_advice" && any(!is.na(f$initial_differs))) measures <- c(measures, "switch_fraction")
    descriptives(spec$name, f, measures)
    fit_logistic(spec$name, "accuracy", f, "correct", spec$reference, "arm * ai_correct")
    shown <- sort(unique(f$arm[!is.na(f$advice_shown) & f$advice_shown == 1]), method = "radix")
    ref <- if ("ai" %in% shown) "ai" else if (spec$reference %in% shown) spec$reference else c(shown, "")[1]
    for (m in measures[-1]) fit_logistic(spec$name, m, f[measure_trials(f, m)$eligible, ], "agree", ref, "arm")
  }
  for (item in spec$likert) if (item %in% names(t))
    fit_ordinal(spec$name, paste0(item, "_ordinal"), t, item, spec$reference, as.character(spec$scale[1]:spec$scale[2]))
  if (length(spec$effect_keys)) {
    cols <- intersect(paste0("answer_effect_", spec$effect_keys), names(t))
    long <- do.call(rbind, lapply(cols, function(col) data.frame(participant = t$participant, image = t$image,
                                                                 arm = sub("^answer_effect_", "", col), effect = t[[col]])))
    if (!is.null(long) && nrow(long)) fit_ordinal(spec$name, "effect_ordinal", long, "effect", spec$effect_keys[1], c("hurt", "no_effect", "helped"))
  }
}

write_table("settings", data.frame(setting = c("EMPTY_DENOMINATOR", "MIN_PARTICIPANTS_PER_ARM", "responses"),
                                   value = c(EMPTY_DENOMINATOR, MIN_PARTICIPANTS_PER_ARM, responses)))
"""

R_TAIL = """
write_table("model_status", STATUS)
"""


def _r(text: str) -> str:
    """An R string literal (JSON escaping is valid R for these characters)."""
    return json.dumps(text)


def _r_vector(values) -> str:
    return f"c({', '.join(_r(v) for v in values)})" if values else "character()"


def r_task_call(name: str, protocol: str, outcome: str | None, reference: str, likert, scale, effect_keys,
                reliance: str = "") -> str:
    """One ``run_task(list(...))`` line of analysis.R."""
    return (f"run_task(list(name = {_r(name)}, protocol = {_r(protocol)}, "
            f"outcome = {_r(outcome) if outcome else 'NULL'}, reference = {_r(reference)}, "
            f"likert = {_r_vector(likert)}, scale = c({scale[0]}, {scale[1]}), "
            f"effect_keys = {_r_vector(effect_keys)}, reliance = {_r(reliance)}))\n")
