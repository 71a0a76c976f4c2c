"""The team pages' URLs, under /team/ (included by avatarsite.urls)."""

from django.urls import path

from generation.web import team, team_admins, team_directory, team_invites

urlpatterns = [
    path("", team.team_home, name="team-home"),
    path("<int:account_id>/", team.review_page, name="team-review"),
    path("<int:account_id>/look/", team.look_page, name="team-look"),
    path("<int:account_id>/upload/", team.upload_page, name="team-upload"),
    path("<int:account_id>/batches/<str:batch_id>/", team.batch_page, name="team-batch"),
    path(
        "<int:account_id>/batches/<str:batch_id>/panel",
        team.batch_panel,
        name="team-batch-panel",
    ),
    path(
        "<int:account_id>/batches/<str:batch_id>/results.zip",
        team.batch_zip,
        name="team-batch-zip",
    ),
    path(
        "<int:account_id>/people/<str:member_id>/<str:which>.png",
        team.member_image,
        name="team-member-image",
    ),
    path(
        "<int:account_id>/people/<str:member_id>/<str:action>",
        team.member_action,
        name="team-member-action",
    ),
    path("<int:account_id>/approve-ready", team.approve_ready, name="team-approve-ready"),
    path("<int:account_id>/publish", team.publish, name="team-publish"),
    path("<int:account_id>/directory/", team.directory_page, name="team-directory"),
    path("<int:account_id>/directory/new-link", team.new_directory_link, name="team-new-link"),
    path("<int:account_id>/avatars.zip", team.approved_zip, name="team-zip"),
    path("<int:account_id>/statuses.csv", team.statuses_csv, name="team-csv"),
    path("<int:account_id>/invites/", team_invites.invites_page, name="team-invites"),
    path(
        "<int:account_id>/invites/<int:invite_id>/end",
        team_invites.end_invite,
        name="team-end-invite",
    ),
    path("<int:account_id>/admins/", team_admins.admins_page, name="team-admins"),
    path(
        "<int:account_id>/admins/<int:admin_id>/remove",
        team_admins.remove_admin,
        name="team-remove-admin",
    ),
    path("join/<str:token>/", team_invites.join_page, name="team-join"),
    path("embed/<str:token>/", team_directory.embed, name="team-embed"),
    path("embed/<str:token>/feed.json", team_directory.feed, name="team-feed"),
    path("embed/<str:token>/<str:member_id>.png", team_directory.avatar, name="team-embed-avatar"),
    path("welcome/<uidb64>/<token>/", team_admins.WelcomeView.as_view(), name="team-welcome"),
]
