"""``python manage.py evaluate_recommender``: leave-one-out precision@k and coverage of the
hybrid, embedding-only, metadata-only and random rankings, printed and stored (see the admin's
"Recommender evaluations").

On reviewed diagnostics by default (with embeddings of the production model); with
``--synthetic N``, on N throwaway SYNTHETIC cases embedded by a freshly trained baseline model
(nothing but the evaluation row is written).
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from diagnostics import registry
from recommender.evaluation import evaluate, format_table
from recommender.evaluation_data import reviewed_cases, synthetic_cases
from recommender.models import RecommenderEvaluation


class Command(BaseCommand):
    help = "Evaluate the similar-case rankings (leave-one-out precision@k and coverage)."

    def add_arguments(self, parser):
        parser.add_argument("--k", type=int, default=10)
        parser.add_argument("--queries", type=int, default=2000, help="most queries to run")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--synthetic", type=int, metavar="N", help="evaluate on N throwaway SYNTHETIC cases"
        )
        parser.add_argument("--train-examples", type=int, default=1200)
        parser.add_argument("--epochs", type=int, default=15)
        parser.add_argument("--no-save", action="store_true", help="print only")

    def handle(self, *args, **options):
        k = options["k"]
        if not 1 <= k <= settings.RECOMMENDER_MAX_K:
            raise CommandError(f"--k must be from 1 to {settings.RECOMMENDER_MAX_K}.")
        version = None
        parameters = {"weights": settings.RECOMMENDER_WEIGHTS, "seed": options["seed"],
                      "overfetch": settings.RECOMMENDER_OVERFETCH}  # fmt: skip
        if options["synthetic"]:
            self.stdout.write(f"Training the synthetic baseline ({options['epochs']} epochs)...")
            data, metrics = synthetic_cases(
                options["synthetic"], seed=options["seed"] + 7,
                train_examples=options["train_examples"], epochs=options["epochs"],
            )  # fmt: skip
            parameters |= {"train_examples": options["train_examples"],
                           "epochs": options["epochs"], "model_auc": metrics.get("roc_auc")}  # fmt: skip
        else:
            version = registry.production_version()
            if version is None:
                raise CommandError("No production model: there are no embeddings to evaluate.")
            data = reviewed_cases(version.pk)
        if len(data) < 2:
            raise CommandError(
                "Fewer than two reviewed cases with embeddings: nothing to evaluate."
            )
        results = evaluate(data, k=k, max_queries=options["queries"], seed=options["seed"])
        queries = min(len(data), options["queries"])
        source = "synthetic" if options["synthetic"] else "reviewed"
        self.stdout.write(f"{len(data)} {source} cases, {queries} leave-one-out queries, k={k}")
        self.stdout.write(format_table(results, k=k))
        if not options["no_save"]:
            evaluation = RecommenderEvaluation.objects.create(
                data=source, model_version=version, k=k, cases=len(data), queries=queries,
                results=results, parameters=parameters,
            )  # fmt: skip
            self.stdout.write(f"Stored as evaluation #{evaluation.pk}.")
