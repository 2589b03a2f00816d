"""The answer head's model card (README.md in its adapter folder): the Hugging Face metadata block, the facts of
its training summary and the command that reproduces it."""

from __future__ import annotations

from pathlib import Path

from fourpaths.answering.answer_head import MINILM_NAME


def write_card(output: Path, summary: dict, measured_note: str = "") -> None:
    from fourpaths.training.model_card import write_card as write_facts

    counts, calibration = summary["data"], summary["calibration"]
    where = ("corpus/qa/dev.jsonl (its questions on facts train.jsonl teaches, and the rest as questions no taught "
             "answer fits)" if calibration["source"] == "dev" else "held-out rewordings and generated negatives")
    facts = {
        "What it is": f"a LoRA adapter (PEFT, task type SEQ_CLS) on {summary['base']} with a classification head "
                      f"over the {counts['answers']} distinct answers of corpus/qa/train.jsonl, reading the "
                      f"sentence embedding ({summary['pooling']} pooling). It picks one of the answers it was "
                      "taught, or says \"I was not taught this.\" below its threshold; it never writes new text and "
                      "cannot know anything it was not taught",
        "LoRA": f"rank {summary['rank']}, alpha {summary['alpha']}, dropout {summary['dropout']}, on "
                f"{', '.join(summary['target_modules'])}; the classifier trained in full, its rows starting at "
                "each answer's train questions",
        "Parameters": f"{summary['trainable_parameters']:,} trainable of {summary['total_parameters']:,} "
                      f"({summary['trainable_share']:.1%})",
        "Training data": f"{counts['train_questions']} questions of corpus/qa/train.jsonl (each "
                         f"{summary['question_repeats']} times per epoch, {summary['reworded_share']:.0%} of "
                         f"appearances reworded by fourpaths/training/question_variants.py, "
                         f"{summary['natural_share']:.0%} of those as people ask), {counts['statements']} "
                         f"sentences of corpus/docs that hold a train answer, {counts['contexts']} of them with "
                         f"the answer cut out, and {counts['negatives']} generated questions no taught answer fits "
                         f"({summary['negative_share']:.0%} of each batch; fourpaths/training/head_negatives.py); "
                         "never corpus/updates or the evaluation sets",
        "Held out": f"{counts['heldout_reworded']} rewordings of the train questions (seeded apart from training), "
                    f"{counts['heldout_contexts']} document sentences kept out of training, asked with the "
                    f"answer cut out, and {counts['heldout_negatives']} generated negatives",
        "Steps": f"{summary['steps']} x {summary['batch_size']} examples ({summary['examples_trained']:,} examples, "
                 f"{summary['tokens_trained']:,} tokens), LoRA lr {summary['lora_lr']}, classifier lr "
                 f"{summary['head_lr']}, {summary['warmup_steps']} warmup steps then cosine decay; the checkpoint "
                 f"of step {summary['chosen_step']} ships, the best of those saved every "
                 f"{summary['checkpoint_every']} steps by the threshold's objective",
        "Wall time": f"{summary['train_seconds'] / 60:.1f} min of training ({summary['wall_seconds'] / 60:.1f} min "
                     f"in all) on {summary['machine']}",
        "Final training loss": f"{summary['final_train_loss']} (mean of the last 20 steps)",
        "Held-out": f"accuracy {summary['heldout_accuracy']:.3f} (reworded questions "
                    f"{summary['heldout_reworded_accuracy']:.3f}, document contexts "
                    f"{summary['heldout_contexts_accuracy']:.3f}), loss {summary['heldout_loss']}",
        "Recall on train.jsonl": f"{summary['train_recall']:.3f} of the questions as written get their answer",
        "Abstention threshold": f"{calibration['threshold']} (softmax probability), chosen on {where}: "
                                f"{calibration['right']:.0%} of its {calibration['answerable']} answerable "
                                f"questions answered right (top answer right on "
                                f"{calibration['top_answer_right']:.0%}), {calibration['unanswerable_abstained']:.0%} "
                                f"of its {calibration['unanswerable']} others refused",
    }
    metadata = {"license": "apache-2.0", "base_model": MINILM_NAME, "library_name": "peft",
                "pipeline_tag": "text-classification", "tags": ["lora", "peft", "text-classification", "fourpaths"]}
    write_facts(output, "fourpaths LoRA answer head",
                "The fine-tuning path: all-MiniLM-L6-v2 adapted with LoRA to map a question to one of the answers "
                "it was taught (corpus/qa/train.jsonl). Reworded questions about trained facts find their answer; "
                "facts that arrived later (corpus/updates) are beyond it.", facts, summary["command"], measured_note,
                metadata=metadata)
