"""The training pages' URLs, under /models/ (included by avatarsite.urls)."""

from django.urls import path

from generation.web import training

urlpatterns = [
    path("", training.model_list, name="training-models"),
    path("<str:model_id>/", training.model_page, name="training-model"),
    path("<str:model_id>/panel", training.model_panel, name="training-panel"),
    path("<str:model_id>/delete", training.delete_model, name="training-delete"),
]
